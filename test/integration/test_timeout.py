"""The `timeout` property: a deadline for receiving and handling a request (the original's
per-request timeout). A body that trickles in past it gets a 408; a download that takes longer
than it is not cut, since sending is bounded by progress (requestBodyTimeout), not total time.
"""

import os
import socket
import time

from kzharness import KzTestCase, RawConn, base_global, sha256, write_file

H = "Host: localhost\r\n"


class RequestDeadlineTest(KzTestCase):
    @classmethod
    def config(cls, root):
        return {"global": base_global(root, timeout=1000, requestBodyTimeout=5000,
                                      requestHeaderTimeout=5000)}

    @classmethod
    def populate(cls, root):
        write_file(os.path.join(root, "www", "index.html"), "<p>index</p>\n")
        cls.big = os.urandom(8 * 1024 * 1024)
        write_file(os.path.join(root, "www", "big.bin"), cls.big)

    def test_trickled_body_past_the_deadline_is_408(self):
        with RawConn(self.port, timeout=10) as c:
            began = time.monotonic()
            self.assertTrue(c.send("POST /index.html HTTP/1.1\r\n" + H +
                                   "Content-Length: 100\r\n\r\n"))
            resp = None
            for _ in range(40):  # 40 bytes over ~4 s, each gap well inside requestBodyTimeout
                if not c.send(b"x"):
                    break
                try:
                    resp = c.read_response(timeout=0.1)
                    break
                except socket.timeout:
                    pass
            self.assertIsNotNone(resp, "no answer while the body trickled in")
            self.assertEqual(resp.status, 408)
            elapsed = time.monotonic() - began
            self.assertGreaterEqual(elapsed, 0.9)
            self.assertLess(elapsed, 3.5)  # the 1 s deadline, checked every 0.5 s
            self.assertTrue(c.closed(3.0))

    def test_slow_download_outlives_the_deadline(self):
        with RawConn(self.port, timeout=20) as c:
            c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16384)
            began = time.monotonic()
            self.assertTrue(c.send("GET /big.bin HTTP/1.1\r\n" + H + "Connection: close\r\n\r\n"))
            time.sleep(1.5)  # the response is being written while the 1 s deadline passes
            resp = c.read_response(timeout=20)
            self.assertEqual(resp.status, 200)
            self.assertEqual(sha256(resp.body), sha256(self.big))
            self.assertGreater(time.monotonic() - began, 1.0)
        self.assert_serving("/index.html")
