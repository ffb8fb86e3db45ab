// The demo site's client assets (Vite 8, pinned in package.json; built by `make frontend`).
//
// Output: ../dist/assets/* (content-hashed, immutable: uploaded to the assets bucket by
// `lambda-isr publish-assets`, served at /assets/* by `lambda-isr dev` and by CloudFront) and
// ../dist/.vite/manifest.json, which ships inside the function's code: FaceApp reads it to
// write each page's <link rel="stylesheet">, <link rel="modulepreload"> and module script.
export default {
  base: "/",
  build: {
    outDir: "../dist",
    emptyOutDir: true,
    manifest: true,
    rolldownOptions: {
      // Two entries that share a module (and its stylesheet): Vite emits a shared chunk.
      input: ["src/main.js", "src/post.js"],
    },
  },
};
