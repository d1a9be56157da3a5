// The package ships no typings; speex.ts narrows the Emscripten module to the
// handful of exports it uses and checks they exist at load time.
declare module '@echogarden/speex-resampler-wasm/simd' {
  const createModule: (moduleArg?: object) => Promise<unknown>;
  export default createModule;
}
declare module '@echogarden/speex-resampler-wasm' {
  const createModule: (moduleArg?: object) => Promise<unknown>;
  export default createModule;
}
