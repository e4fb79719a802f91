/**
 * Just enough protobuf to read and rewrite an ONNX ModelProto without a schema: fields are
 * located by number and wire type, and a rewrite copies every field it does not change as
 * the bytes it was (so unknown fields survive).
 */

export interface Field {
  num: number;
  /** 0 varint, 1 fixed64, 2 length-delimited, 5 fixed32. */
  wire: number;
  /** The whole field, tag included. */
  start: number;
  end: number;
  /** Wire 2: the payload; wire 0: the varint itself. */
  dataStart: number;
  dataEnd: number;
}

export class ProtobufError extends Error {}

/** A varint as a Number (exact below 2^53; a negative int64 reads as a huge value). */
export function readVarint(buf: Uint8Array, pos: number): [value: number, next: number] {
  let value = 0;
  let scale = 1;
  for (let i = 0; i < 10; i++) {
    if (pos >= buf.length) throw new ProtobufError('varint runs past the end');
    const byte = buf[pos++]!;
    value += (byte & 0x7f) * scale;
    if (byte < 0x80) return [value, pos];
    scale *= 128;
  }
  throw new ProtobufError('varint longer than 10 bytes');
}

/** The fields of one message, in order. */
export function readFields(buf: Uint8Array, from = 0, to = buf.length): Field[] {
  const out: Field[] = [];
  let pos = from;
  while (pos < to) {
    const start = pos;
    const [tag, afterTag] = readVarint(buf, pos);
    const num = Math.floor(tag / 8);
    const wire = tag % 8;
    let dataStart = afterTag;
    let dataEnd: number;
    if (wire === 0) dataEnd = readVarint(buf, afterTag)[1];
    else if (wire === 1) dataEnd = afterTag + 8;
    else if (wire === 5) dataEnd = afterTag + 4;
    else if (wire === 2) {
      const [length, afterLength] = readVarint(buf, afterTag);
      dataStart = afterLength;
      dataEnd = afterLength + length;
    } else throw new ProtobufError(`wire type ${wire} at byte ${start}`);
    if (dataEnd > to) throw new ProtobufError(`field ${num} runs past its message`);
    out.push({ num, wire, start, end: dataEnd, dataStart, dataEnd });
    pos = dataEnd;
  }
  return out;
}

const utf8 = new TextDecoder();
const utf8Encoder = new TextEncoder();

export function fieldString(buf: Uint8Array, field: Field): string {
  return utf8.decode(buf.subarray(field.dataStart, field.dataEnd));
}

export function fieldVarint(buf: Uint8Array, field: Field): number {
  return readVarint(buf, field.dataStart)[0];
}

function varintBytes(value: number): number[] {
  const out: number[] = [];
  let v = value;
  while (v >= 0x80) {
    out.push((v % 128) | 0x80);
    v = Math.floor(v / 128);
  }
  out.push(v);
  return out;
}

/** Serialised fields, concatenated once. */
export class Writer {
  private readonly parts: Uint8Array[] = [];
  private size = 0;

  raw(bytes: Uint8Array): this {
    this.parts.push(bytes);
    this.size += bytes.length;
    return this;
  }

  varint(num: number, value: number): this {
    return this.raw(Uint8Array.from([...varintBytes(num * 8), ...varintBytes(value)]));
  }

  bytes(num: number, payload: Uint8Array): this {
    this.raw(Uint8Array.from([...varintBytes(num * 8 + 2), ...varintBytes(payload.length)]));
    return this.raw(payload);
  }

  string(num: number, text: string): this {
    return this.bytes(num, utf8Encoder.encode(text));
  }

  finish(): Uint8Array<ArrayBuffer> {
    const out = new Uint8Array(this.size);
    let at = 0;
    for (const part of this.parts) {
      out.set(part, at);
      at += part.length;
    }
    return out;
  }
}
