/** Pool instance ids: short, URL-safe, and usable as an EC2 ClientToken (at most 64 ASCII characters). */
import { randomBytes } from "node:crypto";

export function newInstanceId(): string {
  return `rsp-${randomBytes(8).toString("hex")}`;
}

export const INSTANCE_ID_PATTERN = /^rsp-[0-9a-f]{16}$/;
