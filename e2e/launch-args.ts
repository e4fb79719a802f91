/** Chromium's flags for every test (a spec that adds one spreads these). */
export const LAUNCH_ARGS = [
  '--no-sandbox',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-quic',
  // Real WebGPU on SwiftShader when no GPU is present.
  '--enable-unsafe-webgpu',
];
