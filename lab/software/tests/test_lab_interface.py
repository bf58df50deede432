"""The MLLP stand-in against real listeners on 127.0.0.1."""

import json
import signal
import socket
import subprocess
import sys
import time

import pytest

ADT = 'MSH|^~\\&|HIS|HOSP|DIALYSIS|HDLAB|20250101120000||ADT^A08|CTRL0001|P|2.5\rPID|1||P000123^^^HDLAB^PI\r'


@pytest.fixture()
def listeners(interface):
    servers = interface.start_listeners(
        [
            {'name': 'his-adt', 'protocol': 'mllp', 'port': 0},
            {'name': 'gateway', 'protocol': 'tcp', 'port': 0},
        ],
        host='127.0.0.1',
        idle_timeout=5,
    )
    yield {s.listener_name: s.server_address[1] for s in servers}
    interface.stop_listeners(servers)


def exchange(port, payload, frames=1):
    with socket.create_connection(('127.0.0.1', port), timeout=5) as sock:
        sock.sendall(payload)
        data = b''
        while data.count(b'\x1c\x0d') < frames:
            chunk = sock.recv(4096)
            if not chunk:
                break
            data += chunk
    return data


def msa(reply):
    assert reply.startswith(b'\x0b') and reply.endswith(b'\x1c\x0d'), reply
    segments = reply[1:-2].decode().split('\r')
    return next(s for s in segments if s.startswith('MSA')).split('|')


def test_hl7_message_gets_aa_with_its_control_id(interface, listeners):
    reply = exchange(listeners['his-adt'], interface.frame(ADT))
    assert msa(reply)[:3] == ['MSA', 'AA', 'CTRL0001']
    assert b'ACK^A08' in reply


def test_malformed_frame_gets_ar(interface, listeners):
    assert msa(exchange(listeners['his-adt'], b'\x0bnot hl7 at all\x1c\x0d'))[1] == 'AR'
    no_control_id = ADT.replace('CTRL0001', '')
    assert msa(exchange(listeners['his-adt'], interface.frame(no_control_id)))[1] == 'AR'


def test_two_frames_split_across_writes_get_two_acks(interface, listeners):
    second = ADT.replace('CTRL0001', 'CTRL0002')
    payload = interface.frame(ADT) + interface.frame(second)
    with socket.create_connection(('127.0.0.1', listeners['his-adt']), timeout=5) as sock:
        sock.sendall(payload[:17])
        time.sleep(0.2)
        sock.sendall(payload[17:])
        data = b''
        while data.count(b'\x1c\x0d') < 2:
            chunk = sock.recv(4096)
            assert chunk, 'connection closed before the second ACK'
            data += chunk
    frames, rest = interface.read_frames(data)
    assert rest == b''
    assert [f.decode().split('\r')[1].split('|')[2] for f in frames] == ['CTRL0001', 'CTRL0002']


def test_tcp_listener_holds_the_connection_open_until_the_client_closes(listeners):
    with socket.create_connection(('127.0.0.1', listeners['gateway']), timeout=5) as sock:
        sock.settimeout(0.5)
        with pytest.raises(socket.timeout):
            sock.recv(10)  # open and silent, like a gateway: not closed at once
        sock.sendall(b'machine data')


def test_read_frames_keeps_an_incomplete_frame(interface):
    frames, rest = interface.read_frames(b'noise\x0bMSH|a\x1c\x0d\x0bMSH|b')
    assert frames == [b'MSH|a'] and rest == b'\x0bMSH|b'


def free_port():
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def test_sigterm_stops_cleanly(software, tmp_path):
    port = free_port()
    config = tmp_path / 'config.json'
    log = tmp_path / 'interface.log'
    config.write_text(
        json.dumps(
            {
                'listen': '127.0.0.1',
                'log_file': str(log),
                'listeners': [{'name': 'his-adt', 'protocol': 'mllp', 'port': port}],
            }
        )
    )
    proc = subprocess.Popen(
        [sys.executable, str(software / 'interface/interface_standin.py'), '--config', str(config)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                reply = exchange(port, b'\x0b' + ADT.encode() + b'\x1c\x0d')
                break
            except OSError:
                time.sleep(0.1)
        else:
            pytest.fail('the stand-in did not listen')
        assert msa(reply)[1] == 'AA'
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
    text = log.read_text()
    assert 'ADT^A08 CTRL0001 ACK AA' in text and 'stopped' in text
    assert 'P000123' not in text  # message content never reaches the log
