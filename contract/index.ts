/**
 * The contract the backend and its clients (the VS Code extension, scripts) share: the /v1 wire
 * shapes, the instance states and their groups, the error codes. It imports nothing, so both
 * sides can depend on it without depending on each other.
 */
export * from "./wire";
export * from "./states";
export * from "./errors";
export * from "./sessions";
export * from "./apps";
export * from "./jobs";
export * from "./answers";
