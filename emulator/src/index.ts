export * from './lambda-emulator';
export { jsonLines, type LifecycleEvent, type LifecycleEventType, type OutputLine } from './lifecycle-recorder';
export type { ExtensionEvent, ExtensionEventType, InvokeEvent, ShutdownEvent, ShutdownReason } from './extensions-api';
