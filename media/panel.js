// Webview script of the RStudio panel: toolbar buttons and the retry button post messages to the extension.
(function () {
  const vscode = acquireVsCodeApi();
  const on = (id, type) => {
    const el = document.getElementById(id);
    if (el) el.addEventListener("click", () => vscode.postMessage({ type }));
  };
  on("reload", "reload");
  on("open-browser", "openInBrowser");
  on("retry", "retry");
  window.addEventListener("message", (event) => {
    if (event.data && event.data.type === "reloadFrame") {
      const frame = document.getElementById("rstudio");
      if (frame) frame.src = frame.src;
    }
  });
})();
