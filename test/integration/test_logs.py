"""The access log (behaviour spec §4 "Logs"): Combined Log Format, one line per request, written
within a bounded delay, with every byte that could split or forge a line escaped as \\xHH (a
quote may also be \\", a backslash \\\\).
"""

import calendar
import os
import re
import time

from kzharness import KzTestCase, base_global, curl, wait_for, write_file

MONTHS = "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split()
QUOTED = r'"((?:[^"\\\x00-\x1f\x7f-\xff]|\\.|\\x[0-9a-fA-F]{2})*)"'
CLF_RE = re.compile(
    r"^(\S+) (\S+) (\S+) \[(\d\d)/(%s)/(\d{4}):(\d\d):(\d\d):(\d\d) ([+-])(\d\d)(\d\d)\] "
    % "|".join(MONTHS) + QUOTED + r" (\d{3}) (\d+|-) " + QUOTED + " " + QUOTED + "$"
)
A_TXT = b"alpha\n"


class AccessLogTest(KzTestCase):
    @classmethod
    def populate(cls, root):
        write_file(os.path.join(root, "www", "index.html"), "<p>index</p>\n")
        write_file(os.path.join(root, "www", "a.txt"), A_TXT)

    def wait_line(self, needle, timeout=3.0):
        """Returns the first access-log line containing needle, waiting for the flush."""
        def find():
            for line in self.access_log().split(b"\n"):
                if needle in line:
                    return line
            return None

        line = wait_for(find, timeout=timeout)
        self.assertIsNotNone(line, "no access-log line with %r within %ss:\n%r"
                             % (needle, timeout, self.access_log()[-2000:]))
        return line.decode("latin-1")

    def parse(self, line):
        m = CLF_RE.match(line)
        self.assertIsNotNone(m, "not a Combined Log Format line: %r" % line)
        return m

    def assert_time_is_now(self, m, slack=10):
        day, mon, year, hh, mm, ss, sign, oh, om = m.group(4, 5, 6, 7, 8, 9, 10, 11, 12)
        local = calendar.timegm((int(year), MONTHS.index(mon) + 1, int(day), int(hh), int(mm),
                                 int(ss), 0, 0, 0))
        offset = (int(oh) * 3600 + int(om) * 60) * (1 if sign == "+" else -1)
        self.assertLess(abs(local - offset - time.time()), slack)

    def test_known_request_line(self):
        resp, conn = self.raw("GET /a.txt?x=1&y=%20 HTTP/1.1\r\nHost: localhost\r\n"
                              "Referer: http://ref.test/page\r\nUser-Agent: kz-test/1.0\r\n"
                              "Connection: close\r\n\r\n")
        conn.close()
        self.assertEqual(resp.status, 200)
        line = self.wait_line(b"/a.txt?x=1&y=%20 ")
        self.assertRegex(line, r'^127\.0\.0\.1 - - \[\d\d/\w{3}/\d{4}:\d\d:\d\d:\d\d [+-]\d{4}\] '
                               r'"GET /a\.txt\?x=1&y=%20 HTTP/1\.1" 200 6 '
                               r'"http://ref\.test/page" "kz-test/1\.0"$')
        self.assert_time_is_now(self.parse(line))

    def test_curl_request_line(self):
        res = curl("-o", "/dev/null", self.server.url("/a.txt?curl"))
        self.assertEqual(res.returncode, 0)
        line = self.wait_line(b"/a.txt?curl ")
        self.assertRegex(line, r'"GET /a\.txt\?curl HTTP/1\.1" 200 6 "-" "curl/\d+\.\d+\.\d+"$')

    def test_http10_head_and_errors(self):
        for data in ("GET /a.txt?v10 HTTP/1.0\r\n\r\n",
                     "HEAD /a.txt?head HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
                     "GET /missing?nf HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"):
            resp, conn = self.raw(data, head_request=data.startswith("HEAD"))
            conn.close()
        self.assertRegex(self.wait_line(b"?v10 "), r'"GET /a\.txt\?v10 HTTP/1\.0" 200 6 "-" "-"$')
        self.assertRegex(self.wait_line(b"?head "), r'"HEAD /a\.txt\?head HTTP/1\.1" 200 (-|0) ')
        line = self.wait_line(b"?nf ")
        self.assertRegex(line, r'"GET /missing\?nf HTTP/1\.1" 404 [1-9]\d* "-" "-"$')

    def test_user_agent_escaping(self):
        ua = b'esc"ape\\me\tnow\xff'
        resp, conn = self.raw(b"GET /a.txt?esc HTTP/1.1\r\nHost: x\r\nUser-Agent: " + ua +
                              b"\r\nConnection: close\r\n\r\n")
        conn.close()
        self.assertEqual(resp.status, 200)
        line = self.wait_line(b"?esc ")
        m = self.parse(line)
        self.assertRegex(m.group(17), r'^esc(\\"|\\x22)ape(\\\\|\\x5[cC])me\\x09now\\x[fF]{2}$')

    def test_forged_fields_stay_inside_their_quotes(self):
        ua = b'x" 200 999 "-" "forged'
        resp, conn = self.raw(b"GET /a.txt?forge HTTP/1.1\r\nHost: x\r\nUser-Agent: " + ua +
                              b"\r\nReferer: r\"\\\r\nConnection: close\r\n\r\n")
        conn.close()
        m = self.parse(self.wait_line(b"?forge "))
        self.assertEqual((m.group(13), m.group(14)), ("GET /a.txt?forge HTTP/1.1", "200"))
        self.assertNotIn('"', m.group(17).replace('\\"', ""))

    def test_every_line_is_clean_after_hostile_requests(self):
        hostile = [b"GET /ctl\x01\x1b[31m HTTP/1.1\r\nHost: x\r\n\r\n",
                   b"GET /q\"uote?hostile HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
                   b"GET /nl HTTP/1.1\r\nHost: x\r\nUser-Agent: a\rb\r\n\r\n",
                   b"GET /\xc3\xa9\xff?hostile2 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
                   b"\x00\x01\x02 / HTTP/1.1\r\n\r\n",
                   b"GET /x HTTP/1.1\r\nHost: x\r\nX: \x7f\r\n\r\n"]
        for data in hostile:
            conn = self.server.connect()
            with conn:
                conn.send(data)
                try:
                    conn.read_response()
                except Exception:
                    pass
        self.assert_serving("/a.txt?final", A_TXT)
        self.wait_line(b"?final ")
        time.sleep(1.0)  # the other worker's buffer too
        log = self.access_log()
        self.assertTrue(log.endswith(b"\n"))
        for ch in set(log) - {0x0A}:
            self.assertTrue(0x20 <= ch < 0x7F, "raw byte 0x%02x in the access log" % ch)
        for line in log.decode("ascii").split("\n")[:-1]:
            self.parse(line)


class LongLogLineTest(KzTestCase):
    """A line longer than the logger's 64 KiB buffer is cut; lines after it stay whole.
    The header limits are raised so that one User-Agent can be 70,000 bytes."""

    @classmethod
    def config(cls, root):
        return {"global": base_global(root, maximumRequestHeaderFieldSize=131072,
                                      maximumRequestHeadersSize=262144, workers=1)}

    @classmethod
    def populate(cls, root):
        write_file(os.path.join(root, "www", "a.txt"), A_TXT)

    def test_cut_line_then_normal_lines(self):
        conn = self.server.connect()
        with conn:
            # Pipelined on one connection, so every line goes to the same loop buffer.
            conn.send("GET /a.txt?huge HTTP/1.1\r\nHost: x\r\nUser-Agent: " + "u" * 70000 +
                      "\r\n\r\n" + "".join("GET /a.txt?after%d HTTP/1.1\r\nHost: x\r\n\r\n" % i
                                           for i in range(3)))
            for _ in range(4):
                self.assertEqual(conn.read_response().body, A_TXT)
        self.assert_serving("/a.txt?final", A_TXT)
        line = wait_for(lambda: b"?final " in self.access_log(), timeout=3)
        self.assertTrue(line, "no ?final line in the access log")
        lines = self.access_log().split(b"\n")
        huge = [l for l in lines if b"?huge " in l]
        self.assertEqual(len(huge), 1)
        self.assertTrue(huge[0].startswith(b"127.0.0.1 - - ["), huge[0][:40])
        self.assertLessEqual(len(huge[0]), 65536)
        for i in range(3):
            found = [l for l in lines if b"?after%d " % i in l]
            self.assertEqual(len(found), 1, "line ?after%d: %r" % (i, found))
            self.assertRegex(found[0].decode("latin-1"),
                             r'^127\.0\.0\.1 - - \[[^\]]+\] "GET /a\.txt\?after%d HTTP/1\.1" 200 6 '
                             r'"-" "-"$' % i)
