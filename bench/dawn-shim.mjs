// Makes onnxruntime-web's WebGPU backends run on Dawn's Node binding (the `webgpu` npm package).
// Two failures, both reproduced here with Dawn on SwiftShader (Vulkan) and fixed by this shim:
// - GPUQueue.writeBuffer rejects SharedArrayBuffer data ("no overload matched for writeBuffer"
//   from the JSEP build, "Invalid argument" from the default build): onnxruntime-web's wasm
//   heap is a SharedArrayBuffer even on one thread.
// - Given ordinary data, Dawn's Vulkan Queue::WriteBuffer crashed in its upload memcpy
//   (SIGSEGV, gdb: dawn::native::vulkan::Buffer::UploadData).
// The shim writes through a staging buffer mapped at creation and a copy submitted on the same
// queue: the same ordering as writeBuffer, and WriteBuffer is never called.
export function installDawnShim(globals) {
  const queues = new WeakMap();
  const requestDevice = globals.GPUAdapter.prototype.requestDevice;
  globals.GPUAdapter.prototype.requestDevice = async function (...args) {
    const device = await requestDevice.apply(this, args);
    queues.set(device.queue, device);
    return device;
  };
  globals.GPUQueue.prototype.writeBuffer = function (buffer, offset, data, dataOffset = 0, size) {
    const device = queues.get(this);
    if (!device) throw new Error('dawn-shim: a queue of a device created before the shim was installed');
    let bytes;
    if (ArrayBuffer.isView(data)) {
      const per = data.BYTES_PER_ELEMENT ?? 1;
      bytes = new Uint8Array(data.buffer, data.byteOffset + dataOffset * per, size !== undefined ? size * per : data.byteLength - dataOffset * per);
    } else {
      bytes = new Uint8Array(data, dataOffset, size ?? data.byteLength - dataOffset);
    }
    const padded = Math.max(4, (bytes.byteLength + 3) & ~3);
    const staging = device.createBuffer({ size: padded, usage: globals.GPUBufferUsage.COPY_SRC | globals.GPUBufferUsage.MAP_WRITE, mappedAtCreation: true });
    new Uint8Array(staging.getMappedRange()).set(bytes);
    staging.unmap();
    const encoder = device.createCommandEncoder();
    encoder.copyBufferToBuffer(staging, 0, buffer, offset, padded);
    this.submit([encoder.finish()]);
    staging.destroy();
  };
}
