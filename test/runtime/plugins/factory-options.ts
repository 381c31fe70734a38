import type { ReportingPluginFactoryOptions } from '../../../runtime/src/contracts/plugin-factory';
import { PolicyEngine } from '../../../runtime/src/engine/policy-engine';
import { SILENT_LOGGER } from '../../../runtime/src/logger';
import { parseServices } from '../../../runtime/src/services/service-config';
import type { RecordingServer } from '../../support/recording-server';

export const LABELS = { app: 'orders', id: 'instance-1', version: '0.1.0' };

/**
 * What main.ts hands a plugin factory, for `opaConfig`: its `services` (by default one service,
 * `service`, at the recording server), each with a client to the recording server.
 */
export function factoryOptions(server: RecordingServer, opaConfig: Record<string, unknown>, service: string): ReportingPluginFactoryOptions {
  const services = parseServices(opaConfig.services ?? server.service(service));
  return {
    opaConfig,
    services,
    clients: new Map([...services.keys()].map((name) => [name, server.client(name)])),
    engine: new PolicyEngine(),
    logger: SILENT_LOGGER,
    labels: LABELS,
  };
}
