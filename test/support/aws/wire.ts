/**
 * Wire helpers of the fake AWS server: parsing EC2 query-protocol bodies into nested objects
 * (`TagSpecification.1.Tag.2.Key=Pool` -> {TagSpecification:[{Tag:[..,{Key:"Pool"}]}]}) and
 * writing the XML that EC2 answers with.
 */

export type QueryValue = string | QueryValue[] | { [k: string]: QueryValue };

/** Parses an application/x-www-form-urlencoded EC2 request; numbered segments become arrays (1-based). */
export function parseQuery(body: string): Record<string, QueryValue> {
  const root: Record<string, unknown> = {};
  for (const [key, value] of new URLSearchParams(body)) {
    const parts = key.split(".");
    let node = root;
    parts.forEach((part, i) => {
      if (i === parts.length - 1) node[part] = value;
      else node = (node[part] ??= {}) as Record<string, unknown>;
    });
  }
  return toArrays(root) as Record<string, QueryValue>;
}

function toArrays(node: unknown): unknown {
  if (typeof node !== "object" || node === null) return node;
  const obj = node as Record<string, unknown>;
  const keys = Object.keys(obj);
  if (keys.length > 0 && keys.every((k) => /^\d+$/.test(k))) {
    return keys.sort((a, b) => Number(a) - Number(b)).map((k) => toArrays(obj[k]));
  }
  const out: Record<string, unknown> = {};
  for (const k of keys) out[k] = toArrays(obj[k]);
  return out;
}

export function esc(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}

/** An XML element; `children` is raw XML (already escaped) or a text value (escaped here). */
export function el(name: string, content: string | number | boolean | null | undefined, raw = false): string {
  if (content === null || content === undefined) return "";
  const text = raw ? String(content) : esc(String(content));
  return `<${name}>${text}</${name}>`;
}

export function items(name: string, list: string[]): string {
  return `<${name}>${list.map((x) => `<item>${x}</item>`).join("")}</${name}>`;
}

export function ec2Response(action: string, body: string, requestId: string): string {
  return `<?xml version="1.0" encoding="UTF-8"?>\n<${action}Response xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"><requestId>${requestId}</requestId>${body}</${action}Response>`;
}

export function ec2ErrorXml(code: string, message: string, requestId: string): string {
  return `<?xml version="1.0" encoding="UTF-8"?>\n<Response><Errors><Error><Code>${esc(code)}</Code><Message>${esc(message)}</Message></Error></Errors><RequestID>${requestId}</RequestID></Response>`;
}

export function tagSetXml(tags: Record<string, string>): string {
  return items("tagSet", Object.entries(tags).map(([k, v]) => el("key", k) + el("value", v)));
}

/** Reads `list[i].Key/Value` arrays (Tag.N.Key) into a map. */
export function tagsFrom(list: QueryValue | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  if (!Array.isArray(list)) return out;
  for (const t of list as Array<Record<string, string>>) if (t?.Key) out[t.Key] = t.Value ?? "";
  return out;
}

export function asList(v: QueryValue | undefined): QueryValue[] {
  return Array.isArray(v) ? v : v === undefined ? [] : [v];
}

/** An error the fake answers with: the AWS code, a message and the HTTP status. */
export class AwsFault extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly status = 400,
  ) {
    super(message);
  }
}
