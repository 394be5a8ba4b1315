/**
 * Answers for requests Node's HTTP parser rejects before any route sees them (oversized
 * headers, a bad Content-Length, broken chunking, a request that never finishes). Node's
 * default answer is a bare status line with an empty body; clients of this API expect the
 * same `{error:{code,message}}` as from every route, so the server's 'clientError' event
 * writes one by hand on the socket and closes it (the parser cannot go on after an error).
 */
import type { Duplex } from "node:stream";
import type { Logger } from "pino";
import { ERROR_STATUS, type ErrorCode } from "../errors";

interface ParserError extends Error {
  code?: string;
}

const REASONS: Record<number, string> = { 400: "Bad Request", 408: "Request Timeout", 413: "Payload Too Large", 431: "Request Header Fields Too Large" };

/** The error code and message for a parser error (Node's `HPE_*` codes). */
export function clientErrorAnswer(err: ParserError): { code: ErrorCode; message: string } {
  switch (err.code) {
    case "HPE_HEADER_OVERFLOW":
      return { code: "HEADERS_TOO_LARGE", message: "The request's headers are too large (limit 16 KB in all)." };
    case "ERR_HTTP_REQUEST_TIMEOUT":
    case "HPE_TIMEOUT":
      return { code: "REQUEST_TIMEOUT", message: "The request was not received in time; send it again." };
    case "HPE_INVALID_CONTENT_LENGTH":
    case "HPE_UNEXPECTED_CONTENT_LENGTH":
      return { code: "INVALID_REQUEST", message: "The request's Content-Length header is not valid." };
    case "HPE_INVALID_CHUNK_SIZE":
    case "HPE_INVALID_TRANSFER_ENCODING":
      return { code: "INVALID_REQUEST", message: "The request's chunked body is not valid." };
    default:
      return { code: "INVALID_REQUEST", message: "The request is not valid HTTP/1.1." };
  }
}

export function rawErrorResponse(code: ErrorCode, message: string): string {
  const status = ERROR_STATUS[code];
  const body = JSON.stringify({ error: { code, message } });
  return [
    `HTTP/1.1 ${status} ${REASONS[status] ?? "Error"}`,
    "Content-Type: application/json; charset=utf-8",
    `Content-Length: ${Buffer.byteLength(body)}`,
    "Connection: close",
    "",
    body,
  ].join("\r\n");
}

/** The handler for `server.on("clientError", ...)`. */
export function clientErrorHandler(log: Logger): (err: ParserError, socket: Duplex) => void {
  return (err, socket) => {
    // A reset or a closed socket has nobody to answer.
    if (err.code === "ECONNRESET" || !socket.writable) {
      socket.destroy();
      return;
    }
    const { code, message } = clientErrorAnswer(err);
    log.info({ event: "client-error", parserCode: err.code, code }, "request rejected by the HTTP parser");
    socket.end(rawErrorResponse(code, message));
  };
}
