export { probeGpu } from './gpu-probe';
export type { GpuReport, GpuProbe } from './gpu-probe';
export { chooseProvider, configureOrt } from './provider';
export type { ProviderChoice, RuntimeAssets } from './provider';
export { createSession } from './session';
export type { DeviceRequest, ModuleReport, CreatedSession, SessionRequest } from './session';
export { loadModuleSession } from './load-module';
export type { LoadModuleRequest } from './load-module';
