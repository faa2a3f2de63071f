declare module "libheif-js/libheif-wasm/libheif-bundle.mjs" {
  // The Emscripten module factory; its HeifDecoder is typed where it is used (heic.ts).
  const load: () => Promise<any>;
  export default load;
}
