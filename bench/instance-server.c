/*
 * The benchmark's "instance": a web app that answers every request with 200 and closes the
 * connection. The local provider starts one per spare (POOL_LOCAL_RUNTIME=command) and checks
 * it exactly as it checks RStudio, so launches, readiness checks and terminations are real,
 * but a thousand of them fit in a few megabytes. Usage: instance-server PORT
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int main(int argc, char **argv) {
  if (argc < 2) return 2;
  int s = socket(AF_INET, SOCK_STREAM, 0);
  int one = 1;
  setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_in a;
  memset(&a, 0, sizeof a);
  a.sin_family = AF_INET;
  a.sin_port = htons((unsigned short)atoi(argv[1]));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(s, (struct sockaddr *)&a, sizeof a) != 0 || listen(s, 64) != 0) return 1;
  /* The version header is what JupyterHub's single-user servers send; without it the hub logs a
   * warning on every start of the comparison run. Our pool ignores it. */
  static const char reply[] =
      "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 3\r\nX-JupyterHub-Version: 3.0.0\r\nConnection: close\r\n\r\nok\n";
  char buf[4096];
  for (;;) {
    int c = accept(s, 0, 0);
    if (c < 0) continue;
    (void)read(c, buf, sizeof buf); /* the request line and headers; the content does not matter */
    (void)write(c, reply, sizeof reply - 1);
    close(c);
  }
}
