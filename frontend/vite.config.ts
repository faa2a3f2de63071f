import react from "@vitejs/plugin-react";
import { defineConfig } from "vitest/config";

export default defineConfig({
  plugins: [react()],
  build: {
    // No source maps in the served folder: the twin and S3 serve dist/ as it is.
    sourcemap: false,
    target: "es2022",
    // libheif's WebAssembly (2 MB) is a chunk of its own, loaded for HEIC photos only.
    chunkSizeWarningLimit: 2100,
  },
  test: {
    environment: "node",
    include: ["src/**/*.test.ts"],
  },
});
