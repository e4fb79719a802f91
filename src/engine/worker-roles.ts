import type * as Comlink from 'comlink';
import type { DeviceRequest } from '../device';
import type { LanguageWorkerApi, VisionWorkerApi, WorkerLoadRequest, WorkerLoadResult } from '../../workers/protocol';
import { WorkerSupervisor } from './supervisor';
import type { WorkerFactories } from './types';

/** A worker's supervisor; its load result lists the modules it (re)loaded. */
export type AnySupervisor = WorkerSupervisor<never, WorkerLoadResult>;

/** Where one role's calls go: its remote, and the supervisor of the worker hosting it. */
export interface Role<T> {
  remote: Comlink.Remote<T>;
  supervisor: AnySupervisor;
}

export type Roles = { vision: Role<VisionWorkerApi>; language: Role<LanguageWorkerApi> };

/** What a worker hosting both roles exposes. */
export type SharedWorkerApi = { vision: VisionWorkerApi; language: LanguageWorkerApi };

export type LanguageLoadRequest = WorkerLoadRequest & { tokenizerJson: unknown; tokenizerConfig: unknown };

/** How a fresh worker loads its role(s) again after a restart (the requests exist by then). */
export interface RoleRestarts {
  vision: (remote: Comlink.Remote<VisionWorkerApi>) => Promise<WorkerLoadResult>;
  language: (remote: Comlink.Remote<LanguageWorkerApi>) => Promise<WorkerLoadResult>;
}

/**
 * Whether one worker hosts both roles: when the factories offer one and the model will run
 * on wasm (asked for, or this browser has no WebGPU). Then the model has one onnxruntime (one
 * runtime start, one wasm heap, one thread pool) instead of two. With WebGPU possible, each
 * role keeps its own worker: one worker measured less memory and as fast a load there too,
 * but its renderer memory grew by 15–36 MiB over 50 ask cycles in the leak test (bound 24).
 */
export function sharesWorker(factories: WorkerFactories, device: DeviceRequest): boolean {
  if (!factories.both) return false;
  const gpu = (globalThis as { navigator?: { gpu?: unknown } }).navigator?.gpu;
  return device === 'wasm' || gpu === undefined;
}

/** The supervisors of the workers behind the roles: one, or one per role. */
export function supervisorsOf(roles: Roles): AnySupervisor[] {
  return [...new Set([roles.vision.supervisor, roles.language.supervisor])];
}

/** One load result for a worker hosting both roles. */
function merged(vision: WorkerLoadResult, language: WorkerLoadResult): WorkerLoadResult {
  return { ...vision, modules: [...vision.modules, ...language.modules] };
}

/** Starts the workers (one per role, or one for both) and says where each role's calls go. */
export function startRoles(factories: WorkerFactories, shared: boolean, restarts: RoleRestarts): Roles {
  if (shared && factories.both) {
    const both = factories.both;
    const supervisor = new WorkerSupervisor<SharedWorkerApi, WorkerLoadResult>('vision+language', both, async (remote) => {
      // Comlink types a property as a promise; at run time it is the sub-object's remote.
      const sub = remote as unknown as { vision: Comlink.Remote<VisionWorkerApi>; language: Comlink.Remote<LanguageWorkerApi> };
      const [vision, language] = await Promise.all([restarts.vision(sub.vision), restarts.language(sub.language)]);
      return merged(vision, language);
    });
    const any = supervisor as unknown as AnySupervisor;
    return { vision: { remote: supervisor.view('vision'), supervisor: any }, language: { remote: supervisor.view('language'), supervisor: any } };
  }
  const vision = new WorkerSupervisor<VisionWorkerApi, WorkerLoadResult>('vision', factories.vision, restarts.vision);
  const language = new WorkerSupervisor<LanguageWorkerApi, WorkerLoadResult>('language', factories.language, restarts.language);
  return {
    vision: { remote: vision.remote, supervisor: vision as unknown as AnySupervisor },
    language: { remote: language.remote, supervisor: language as unknown as AnySupervisor },
  };
}
