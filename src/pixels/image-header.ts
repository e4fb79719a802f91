/**
 * Reads an image's pixel size from its first bytes, before any decoding, so an image the
 * browser cannot decode is refused with the limit named instead of failing opaquely (or
 * exhausting memory). Returns undefined for formats it does not know.
 */
export interface HeaderInfo {
  format: 'png' | 'jpeg' | 'gif' | 'webp' | 'bmp' | 'svg';
  width: number;
  height: number;
}

const ascii = (bytes: Uint8Array, from: number, length: number) => String.fromCharCode(...bytes.subarray(from, from + length));

function jpegSize(bytes: Uint8Array, view: DataView): HeaderInfo | undefined {
  let offset = 2;
  while (offset + 9 < bytes.length) {
    if (bytes[offset] !== 0xff) return undefined;
    const marker = bytes[offset + 1]!;
    if (marker === 0xff) {
      offset++;
      continue;
    }
    const length = view.getUint16(offset + 2);
    // SOF0..SOF15 except DHT (C4), JPG (C8) and DAC (CC) carry the frame size.
    if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) {
      return { format: 'jpeg', height: view.getUint16(offset + 5), width: view.getUint16(offset + 7) };
    }
    offset += 2 + length;
  }
  return undefined;
}

function webpSize(bytes: Uint8Array, view: DataView): HeaderInfo | undefined {
  const chunk = ascii(bytes, 12, 4);
  if (chunk === 'VP8X') return { format: 'webp', width: 1 + (view.getUint32(24, true) & 0xffffff), height: 1 + (view.getUint32(27, true) & 0xffffff) };
  if (chunk === 'VP8 ') return { format: 'webp', width: view.getUint16(26, true) & 0x3fff, height: view.getUint16(28, true) & 0x3fff };
  if (chunk === 'VP8L') {
    const bits = view.getUint32(21, true);
    return { format: 'webp', width: 1 + (bits & 0x3fff), height: 1 + ((bits >> 14) & 0x3fff) };
  }
  return undefined;
}

export function readImageHeader(bytes: Uint8Array): HeaderInfo | undefined {
  try {
    return readHeader(bytes);
  } catch (error) {
    // A header cut short inside a size field (found by fuzzing): unknown, and the decoder
    // then says what is wrong with the file.
    if (error instanceof RangeError) return undefined;
    throw error;
  }
}

function readHeader(bytes: Uint8Array): HeaderInfo | undefined {
  if (bytes.length < 16) return undefined;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes[0] === 0x89 && ascii(bytes, 1, 3) === 'PNG' && ascii(bytes, 12, 4) === 'IHDR') {
    return { format: 'png', width: view.getUint32(16), height: view.getUint32(20) };
  }
  if (bytes[0] === 0xff && bytes[1] === 0xd8) return jpegSize(bytes, view);
  if (ascii(bytes, 0, 4) === 'GIF8') return { format: 'gif', width: view.getUint16(6, true), height: view.getUint16(8, true) };
  if (ascii(bytes, 0, 4) === 'RIFF' && ascii(bytes, 8, 4) === 'WEBP' && bytes.length >= 30) return webpSize(bytes, view);
  if (ascii(bytes, 0, 2) === 'BM' && bytes.length >= 26) return { format: 'bmp', width: Math.abs(view.getInt32(18, true)), height: Math.abs(view.getInt32(22, true)) };
  const text = ascii(bytes, 0, Math.min(bytes.length, 512)).trimStart();
  if (text.startsWith('<svg') || (text.startsWith('<?xml') && text.includes('<svg'))) return { format: 'svg', width: 0, height: 0 };
  return undefined;
}
