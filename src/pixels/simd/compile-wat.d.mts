export function compileWat(source: string): Promise<Buffer>;
export function moduleSource(bytes: Buffer): string;
