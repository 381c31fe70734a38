/**
 * Checks shared by every parser of the OPA configuration, so each refuses a value of the wrong
 * shape with the same message: `<key> must be ..., got <value>`.
 */
import { ConfigError } from '../errors';

/** The object at `key`, or undefined when the key is absent or null (as OPA reads a null section). */
export function optionalObject(value: unknown, key: string): Record<string, unknown> | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'object' || Array.isArray(value)) {
    throw new ConfigError(`${key} must be an object, got ${JSON.stringify(value)}`);
  }
  return value as Record<string, unknown>;
}

/** The object at `key`, where absent or null is as wrong as any other value (a named entry of a map). */
export function requiredObject(value: unknown, key: string): Record<string, unknown> {
  const object = optionalObject(value, key);
  if (!object) throw new ConfigError(`${key} must be an object, got ${JSON.stringify(value)}`);
  return object;
}
