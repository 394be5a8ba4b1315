// Placeholder entry point until the extension lands (see issue "Extension: claim, see and open RStudio hosts").
export function activate(): void {}
export function deactivate(): void {}
