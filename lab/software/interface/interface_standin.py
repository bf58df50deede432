#!/usr/bin/env python3
"""Interface engine stand-in (lab): HL7 v2 MLLP listeners and plain TCP listeners.

    interface_standin.py --config /etc/dialysis-interface/config.json

config: {"listen": "0.0.0.0", "log_file": "/var/log/dialysis/interface.log",
         "listeners": [{"name": "his-adt", "protocol": "mllp", "port": 2575}, ...]}
An MLLP listener reads frames 0x0b <message> 0x1c 0x0d and answers every HL7 message with an ACK
(MSA|AA|<MSH-10>); a frame that is not an HL7 message with a control id (MSH-10) gets MSA|AR.
A tcp listener (the machine gateway) accepts a connection and holds it open, reading and
discarding whatever arrives, until the client closes it or it idles out, as a gateway streaming
machine data would (it never closes a fresh connection at once: that is what a port forwarder
with nothing behind it does, and what the inspection's endpoint probe reports). SIGTERM stops it
cleanly.
The log holds message types and control ids only, never message content.
"""

import argparse
import datetime as dt
import json
import logging
import signal
import socket
import socketserver
import sys
import threading
from pathlib import Path

START, END = b'\x0b', b'\x1c\x0d'
MAX_FRAME = 1 << 20
DEFAULT_LISTENERS = [
    {'name': 'his-adt', 'protocol': 'mllp', 'port': 2575},
    {'name': 'lis-results', 'protocol': 'mllp', 'port': 2576},
    {'name': 'machine-gateway', 'protocol': 'tcp', 'port': 4001},
]
log = logging.getLogger('dialysis-interface')


def frame(message):
    """bytes of one MLLP frame of MESSAGE (str, segments separated by CR)."""
    return START + message.encode('utf-8') + END


def read_frames(buffer):
    """(complete frames' payloads, rest of BUFFER) - bytes before a start block are dropped."""
    frames = []
    while True:
        start = buffer.find(START)
        if start < 0:
            return frames, b''
        end = buffer.find(END, start + 1)
        if end < 0:
            return frames, buffer[start:]
        frames.append(buffer[start + 1 : end])
        buffer = buffer[end + 2 :]


def parse_msh(message):
    """(fields of MSH, field separator) of an HL7 v2 message, or None when it is not one."""
    segments = [s for s in message.replace('\n', '\r').split('\r') if s]
    if not segments or not segments[0].startswith('MSH') or len(segments[0]) < 8:
        return None
    separator = segments[0][3]
    return segments[0].split(separator), separator


def ack(message, now=None, app='DIALYSIS-IE'):
    """(ACK message, code, control id): AA with the message's control id, AR for a malformed message."""
    stamp = (now or dt.datetime.now(dt.timezone.utc)).strftime('%Y%m%d%H%M%S')
    parsed = parse_msh(message)
    if parsed is None:
        fields, sep, control, reason = None, '|', '', 'not an HL7 v2 message (no MSH segment)'
    else:
        fields, sep = parsed
        control = fields[9] if len(fields) > 9 else ''
        reason = '' if control else 'MSH-10 (message control id) missing'
    code = 'AR' if reason else 'AA'
    sender, facility = (fields[2], fields[3]) if fields and len(fields) > 3 else ('', '')
    trigger = ''
    if fields and len(fields) > 8 and '^' in fields[8]:
        trigger = fields[8].split('^')[1]
    enc = fields[1] if fields and len(fields) > 1 else '^~\\&'
    msh = sep.join(
        [
            'MSH',
            enc,
            app,
            'HDLAB',
            sender,
            facility,
            stamp,
            '',
            f'ACK^{trigger}' if trigger else 'ACK',
            f'ACK{stamp}',
            'P',
            '2.5',
        ]
    )
    msa = sep.join(['MSA', code, control] + ([reason] if reason else []))
    return f'{msh}\r{msa}\r', code, control


def message_type(message):
    parsed = parse_msh(message)
    if parsed and len(parsed[0]) > 8:
        return parsed[0][8]
    return '?'


class MLLPHandler(socketserver.BaseRequestHandler):
    def handle(self):
        name = self.server.listener_name
        peer = f'{self.client_address[0]}:{self.client_address[1]}'
        log.info('%s: connection from %s', name, peer)
        buffer = b''
        self.request.settimeout(self.server.idle_timeout)
        while not self.server.stopping.is_set():
            try:
                data = self.request.recv(65536)
            except socket.timeout:
                log.info('%s: %s idle, closing', name, peer)
                break
            except OSError:
                break
            if not data:
                break
            buffer += data
            frames, buffer = read_frames(buffer)
            if len(buffer) > MAX_FRAME:
                log.error('%s: frame from %s larger than %d bytes, closing', name, peer, MAX_FRAME)
                break
            for payload in frames:
                try:
                    text = payload.decode('utf-8')
                except UnicodeDecodeError:
                    text = payload.decode('latin-1')
                reply, code, control = ack(text)
                self.request.sendall(frame(reply))
                if code == 'AA':
                    log.info('%s: %s %s ACK AA', name, message_type(text), control)
                else:
                    log.warning('%s: malformed frame from %s (%d bytes): ACK AR', name, peer, len(payload))
        log.info('%s: %s disconnected', name, peer)


class TCPHandler(socketserver.BaseRequestHandler):
    def handle(self):
        name = self.server.listener_name
        peer = f'{self.client_address[0]}:{self.client_address[1]}'
        log.info('%s: connection from %s', name, peer)
        self.request.settimeout(self.server.idle_timeout)
        while not self.server.stopping.is_set():
            try:
                if not self.request.recv(65536):
                    break
            except OSError:  # idle timeout, reset
                break
        log.info('%s: %s disconnected', name, peer)


class Server(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True


def start_listeners(listeners, host='0.0.0.0', idle_timeout=300.0):
    """Start every listener in a thread; return the servers (server.server_address has the port)."""
    stopping = threading.Event()
    servers = []
    for spec in listeners:
        if spec['protocol'] not in ('mllp', 'tcp'):
            raise ValueError(f'listener {spec["name"]}: protocol must be mllp or tcp')
        handler = MLLPHandler if spec['protocol'] == 'mllp' else TCPHandler
        server = Server((host, int(spec['port'])), handler)
        server.listener_name = spec['name']
        server.stopping = stopping
        server.idle_timeout = idle_timeout
        threading.Thread(target=server.serve_forever, name=spec['name'], daemon=True).start()
        servers.append(server)
        log.info('%s: %s listener on %s:%s', spec['name'], spec['protocol'], host, server.server_address[1])
    return servers


def stop_listeners(servers):
    if servers:
        servers[0].stopping.set()
    for server in servers:
        server.shutdown()
        server.server_close()


def setup_logging(log_file):
    fmt = logging.Formatter('%(asctime)s %(levelname)s dialysis-interface: %(message)s', '%Y-%m-%d %H:%M:%S')
    log.setLevel(logging.INFO)
    stream = logging.StreamHandler(sys.stdout)
    stream.setFormatter(fmt)
    log.addHandler(stream)
    if log_file:
        try:
            Path(log_file).parent.mkdir(parents=True, exist_ok=True)
            handler = logging.FileHandler(log_file, encoding='utf-8')
            handler.setFormatter(fmt)
            log.addHandler(handler)
        except OSError as exc:
            log.warning('cannot write %s (%s); logging to stdout only', log_file, exc.strerror)


def main(argv=None):
    parser = argparse.ArgumentParser(description='Interface engine stand-in (lab)')
    parser.add_argument('--config', default='/etc/dialysis-interface/config.json')
    args = parser.parse_args(argv)
    config = {}
    if Path(args.config).exists():
        config = json.loads(Path(args.config).read_text(encoding='utf-8'))
    setup_logging(config.get('log_file', '/var/log/dialysis/interface.log'))
    done = threading.Event()

    def stop(signum, _frame):
        log.info('received %s, stopping', signal.Signals(signum).name)
        done.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        servers = start_listeners(
            config.get('listeners', DEFAULT_LISTENERS),
            config.get('listen', '0.0.0.0'),
            float(config.get('idle_timeout_seconds', 300)),
        )
    except (OSError, ValueError) as exc:
        log.error('cannot start the listeners: %s', exc)
        return 1
    done.wait()
    stop_listeners(servers)
    log.info('stopped')
    return 0


if __name__ == '__main__':
    sys.exit(main())
