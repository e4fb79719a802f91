import { ort } from '../src/device/ort';
import { DEVICE_LOST_EVENT, type DeviceLostEvent } from './protocol';

/**
 * Watches the GPU device onnxruntime-web's sessions run on: when it is lost while the
 * worker still needs it, the page is told (DEVICE_LOST_EVENT) and restarts the worker on a
 * new device. A loss during dispose is expected and not reported.
 */
export class DeviceWatch {
  private device: GPUDevice | undefined;
  private releasing = false;

  /** Call once the WebGPU sessions exist (onnxruntime creates its device with the first one). */
  async watch(): Promise<void> {
    const device = await ort.env.webgpu.device;
    if (this.device === device) return;
    this.device = device;
    void device.lost.then((info) => {
      if (this.releasing) return;
      const event: DeviceLostEvent = { type: DEVICE_LOST_EVENT, reason: info.reason ?? 'unknown', message: info.message };
      self.postMessage(event);
    });
  }

  /** The sessions are being released: a loss from here on is expected. */
  release(): void {
    this.releasing = true;
  }

  /** Destroys the watched device (fault drills, tests); false when there is none (wasm). */
  lose(): boolean {
    if (!this.device) return false;
    this.device.destroy();
    return true;
  }
}
