"""Many concurrent connections: 1,000 keep-alive connections held open while new connections are
still served, then every one of the 1,000 answers another request.
"""

import os
import resource
import socket
import time
import unittest

from kzharness import KzTestCase, NoResponse, RawConn, base_global, wait_for, write_file

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


class DescriptorExhaustionTest(KzTestCase):
    """The server runs with only 64 descriptors. Connections are opened until they use them all:
    the request that then cannot open its file gets a 500 page (with serverAdministratorEmail)
    or a 503, never a crash; once connections close, waiting clients are accepted and served."""

    nofile = 64

    @classmethod
    def config(cls, root):
        return {"global": base_global(root, keepAliveTimeout=60000,
                                      serverAdministratorEmail="admin@example.test")}

    @classmethod
    def populate(cls, root):
        write_file(os.path.join(root, "www", "index.html"), "<p>index</p>\n")
        write_file(os.path.join(root, "www", "m.txt"), BODY)

    def test_out_of_descriptors(self):
        conns, refused = [], None
        try:
            for i in range(self.nofile + 8):
                c = RawConn(self.port, timeout=3)
                conns.append(c)
                c.send("GET /m.txt HTTP/1.1\r\n" + H + "\r\n")
                try:
                    resp = c.read_response(timeout=1.5)
                except (socket.timeout, NoResponse):
                    break  # not accepted (descriptors exhausted): it waits in the backlog
                if resp.status != 200:
                    refused = resp
                    break
            self.assertLess(i, self.nofile + 7, "64 descriptors never ran out")
            if refused is not None:
                self.assertIn(refused.status, (500, 503))
                self.assert_error_page(refused)
                if refused.status == 500:
                    self.assertIn(b"admin@example.test", refused.body)
            waiting = conns[-1] if refused is None else None
            for c in conns[:10]:
                c.close()
            if waiting is not None:  # accepted now that descriptors are free again
                resp = waiting.read_response(timeout=5)
                self.assertEqual((resp.status, resp.body), (200, BODY))
            self.assertTrue(wait_for(lambda: self.get("/m.txt")[0].status == 200, timeout=5))
        finally:
            for c in conns:
                c.close()
        for _ in range(5):
            self.assert_serving("/m.txt", BODY)


class ConnectionCapTest(KzTestCase):
    """maximumConnections: with one worker and a cap of 3, three idle connections are held and
    a fourth is refused politely with a 503 and closed; the three still work afterwards."""

    @classmethod
    def config(cls, root):
        return {"global": base_global(root, workers=1, keepAliveTimeout=60000,
                                      maximumConnections=3)}

    @classmethod
    def populate(cls, root):
        write_file(os.path.join(root, "www", "index.html"), "<p>index</p>\n")
        write_file(os.path.join(root, "www", "m.txt"), BODY)

    def test_fourth_connection_gets_503(self):
        conns = [RawConn(self.port, timeout=5) for _ in range(3)]
        try:
            for c in conns:
                self.assertTrue(c.send("GET /m.txt HTTP/1.1\r\n" + H + "\r\n"))
                resp = c.read_response(timeout=5)
                self.assertEqual((resp.status, resp.body), (200, BODY))
            with RawConn(self.port, timeout=5) as extra:
                resp = extra.read_response(timeout=5)
                self.assertEqual(resp.status, 503)
                self.assertEqual(resp.header("Retry-After"), "1")
                self.assertEqual((resp.header("Connection") or "").lower(), "close")
                self.assertTrue(extra.closed(2.0))
            for c in conns:
                self.assertTrue(c.send("GET /m.txt?again HTTP/1.1\r\n" + H + "\r\n"))
                resp = c.read_response(timeout=5)
                self.assertEqual((resp.status, resp.body), (200, BODY))
        finally:
            for c in conns:
                c.close()
        # Once they are gone, new connections are served again.
        self.assertTrue(wait_for(lambda: self.get("/m.txt")[0].status == 200, timeout=5))
