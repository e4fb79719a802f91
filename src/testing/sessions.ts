/** Node-only: open the committed bundle's graphs on onnxruntime-web's wasm backend. */
import { existsSync } from 'node:fs';
import { moduleFileName, type Dtype, type ModuleName } from '../bundle';
import { createSession } from '../device/session';
import type { ort } from '../device/ort';
import { BUNDLE_DIR, readBytes } from './fixtures';

export async function openModule(module: ModuleName, dtype: Dtype, numLayers = 2, dir = BUNDLE_DIR): Promise<ort.InferenceSession> {
  const file = moduleFileName(module, dtype);
  // Weights in `<file>_data` (a streamed converter graph): passed as the runtime does.
  const dataName = `${file.slice(file.lastIndexOf('/') + 1)}_data`;
  const externalData = existsSync(`${dir}${file}_data`) ? [{ path: dataName, data: readBytes(`${dir}${file}_data`) }] : undefined;
  const created = await createSession({ module, file, dtype, bytes: readBytes(`${dir}${file}`), provider: 'wasm', numLayers, ...(externalData ? { externalData } : {}) });
  return created.session;
}
