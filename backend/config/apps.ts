/** The web apps an instance can serve: defined in the shared contract (contract/apps.ts). */
export * from "../../contract/apps";
