"""Many concurrent connections: 1,000 keep-alive connections held open while new connections are
still served, then every one of the 1,000 answers another request.
"""

import os
import resource
import time
import unittest

from kzharness import KzTestCase, RawConn, base_global, write_file

N = 1000
H = "Host: localhost\r\n"
BODY = b"many connections\n"


class ManyConnectionsTest(KzTestCase):
    @classmethod
    def setUpClass(cls):
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        want = N + 200
        if soft < want:
            if hard != resource.RLIM_INFINITY and hard < want:
                raise unittest.SkipTest("RLIMIT_NOFILE hard limit %d < %d" % (hard, want))
            resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
        super().setUpClass()

    @classmethod
    def config(cls, root):
        return {"global": base_global(root, keepAliveTimeout=60000, maximumConnections=4096)}

    @classmethod
    def populate(cls, root):
        write_file(os.path.join(root, "www", "index.html"), "<p>index</p>\n")
        write_file(os.path.join(root, "www", "m.txt"), BODY)

    def round(self, conns, tag):
        for c in conns:
            self.assertTrue(c.send("GET /m.txt?%s HTTP/1.1\r\n%s\r\n" % (tag, H)))
        for i, c in enumerate(conns):
            resp = c.read_response(timeout=10)
            self.assertEqual((resp.status, resp.body), (200, BODY), "connection %d" % i)
            self.assertNotEqual((resp.header("Connection") or "").lower(), "close")

    def test_thousand_keep_alive_connections(self):
        began = time.monotonic()
        conns = []
        try:
            for _ in range(N):
                conns.append(RawConn(self.port, timeout=10))
            self.round(conns, "first")
            # All 1,000 are idle and open; new connections are still served.
            for i in range(20):
                resp, body = self.get("/m.txt?fresh%d" % i)
                self.assertEqual((resp.status, body), (200, BODY))
            for c in conns[::97]:
                self.assertFalse(c.closed(0.01), "an idle keep-alive connection was closed")
            self.round(conns, "second")
        finally:
            for c in conns:
                c.close()
        self.assertLess(time.monotonic() - began, 60)
        self.assert_serving("/m.txt", BODY)
