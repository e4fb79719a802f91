/** Node-only: open the committed bundle's graphs on onnxruntime-web's wasm backend. */
import { moduleFileName, type Dtype, type ModuleName } from '../bundle';
import { createSession } from '../device/session';
import type { ort } from '../device/ort';
import { BUNDLE_DIR, readBytes } from './fixtures';

export async function openModule(module: ModuleName, dtype: Dtype, numLayers = 2, dir = BUNDLE_DIR): Promise<ort.InferenceSession> {
  const file = moduleFileName(module, dtype);
  const created = await createSession({ module, file, dtype, bytes: readBytes(`${dir}${file}`), provider: 'wasm', numLayers });
  return created.session;
}
