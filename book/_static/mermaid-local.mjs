// Serve Mermaid from the site itself, so diagrams render offline.
// sphinxcontrib-mermaid imports an ES module; the vendored file (mermaid 11.4.1,
// MIT licence in mermaid.LICENSE, from the npm package's dist/mermaid.min.js) is a
// classic script that sets globalThis.mermaid, so load it as one and re-export it.
await new Promise((resolve, reject) => {
  const script = document.createElement("script");
  script.src = new URL("./mermaid.min.js", import.meta.url).href;
  script.onload = resolve;
  script.onerror = () => reject(new Error("could not load " + script.src));
  document.head.appendChild(script);
});
export default globalThis.mermaid;
