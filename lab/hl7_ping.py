#!/usr/bin/env python3
"""Send one synthetic HL7 v2 message over MLLP and print the ACK as JSON (stdlib only).

    hl7_ping.py HOST PORT [--control-id ID] [--timeout 10]
    -> {"ack_code": "AA", "control_id": "LAB...", "acked_control_id": "LAB...", "ok": true}

Used by lab/provision.yml (the interface stand-in answers) and by molecule's `lab` scenario.
The message is synthetic (an ADT^A08 without any patient identifier). Exit status 0 only for an
AA ACK that names the message's control id.
"""

import argparse
import json
import socket
import sys
import time

START, END = b'\x0b', b'\x1c\x0d'


def message(control_id):
    stamp = time.strftime('%Y%m%d%H%M%S', time.gmtime())
    return '\r'.join([
        'MSH|^~\\&|LABCTL|LAB|HDIS|HD|%s||ADT^A08|%s|P|2.5' % (stamp, control_id),
        'EVN|A08|%s' % stamp,
        'PID|1||LAB-SYNTHETIC^^^LAB||LAB^SYNTHETIC',
    ]) + '\r'


def send(host, port, control_id, timeout=10.0):
    """The ACK's (MSA-1 code, MSA-2 control id, raw text) for one message."""
    with socket.create_connection((host, port), timeout=timeout) as sock:
        sock.settimeout(timeout)
        sock.sendall(START + message(control_id).encode('utf-8') + END)
        data = b''
        while END not in data:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    text = data.split(START, 1)[-1].split(END, 1)[0].decode('utf-8', 'replace')
    for segment in text.split('\r'):
        fields = segment.split('|')
        if fields[0] == 'MSA' and len(fields) > 2:
            return fields[1], fields[2], text
    return None, None, text


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('host')
    parser.add_argument('port', type=int)
    parser.add_argument('--control-id', default='LAB%d' % int(time.time() * 1000))
    parser.add_argument('--timeout', type=float, default=10.0)
    args = parser.parse_args(argv)
    try:
        code, acked, _ = send(args.host, args.port, args.control_id, args.timeout)
    except OSError as exc:
        print(json.dumps({'ok': False, 'error': '%s: %s' % (type(exc).__name__, exc)}))
        return 1
    ok = code == 'AA' and acked == args.control_id
    print(json.dumps({'ok': ok, 'ack_code': code, 'control_id': args.control_id, 'acked_control_id': acked}))
    return 0 if ok else 1


if __name__ == '__main__':
    sys.exit(main())
