import type * as Comlink from 'comlink';
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
 * Whether one worker hosts both roles: whenever the factories offer one (the default ones do).
 * Then the model has one onnxruntime (one runtime start, one wasm heap, one thread pool, one
 * GPU device) instead of two: measured here, less memory (wasm and WebGPU) and a load as fast
 * or faster. Custom factories without `both` keep a worker per role.
 */
export function sharesWorker(factories: WorkerFactories): boolean {
  return factories.both !== undefined;
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
