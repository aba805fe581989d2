"""The pure parts of the backend's stop and start: the release switch's refusals and its atomic rename, and the
port and /health waits against real sockets on loopback."""
import http.server
import os
import socket
import threading

import pytest

from ansible_collections.defneqr.dbops.plugins.module_utils import app_process


def _release(root, release_id, complete=True):
    folder = root / 'releases' / release_id
    folder.mkdir(parents=True)
    if complete:
        (folder / app_process.RELEASE_COMPLETE).write_text('sha256 ...\n')
    return folder


def test_current_is_switched_in_one_rename_and_only_to_a_complete_release(tmp_path):
    old, new = _release(tmp_path, '1.3.0'), _release(tmp_path, '1.4.0')
    _release(tmp_path, '1.5.0', complete=False)
    os.symlink(str(old), str(tmp_path / 'current'))
    assert app_process.needs_switch(str(tmp_path), '') is False
    assert app_process.needs_switch(str(tmp_path), '1.3.0') is False
    assert app_process.needs_switch(str(tmp_path), '1.4.0') is True
    app_process.switch_current(str(tmp_path), '1.4.0')
    assert os.readlink(str(tmp_path / 'current')) == str(new)
    assert sorted(os.listdir(str(tmp_path))) == ['current', 'releases']  # no staged link left behind
    with pytest.raises(app_process.AppProcessError, match='1.5.0 is not unpacked completely.*release_action=unpack'):
        app_process.needs_switch(str(tmp_path), '1.5.0')
    for planted in ('../../etc', 'a/b', '..'):
        with pytest.raises(app_process.AppProcessError, match='not a folder name'):
            app_process.needs_switch(str(tmp_path), planted)
    assert os.readlink(str(tmp_path / 'current')) == str(new)


def test_a_current_folder_is_not_replaced_and_the_error_says_so(tmp_path):
    _release(tmp_path, '1.4.0')
    (tmp_path / 'current').mkdir()
    with pytest.raises(app_process.AppProcessError, match='Check that current is a link'):
        app_process.switch_current(str(tmp_path), '1.4.0')
    assert (tmp_path / 'current').is_dir() and not (tmp_path / 'current').is_symlink()
    assert sorted(os.listdir(str(tmp_path))) == ['current', 'releases']


def test_the_port_wait_sees_a_listener_close_and_gives_up_on_one_that_stays():
    listener = socket.socket()
    listener.bind(('127.0.0.1', 0))
    listener.listen()
    port = listener.getsockname()[1]
    assert app_process.port_open(port)
    assert app_process.wait_port_closed(port, 0.2) is False
    threading.Timer(0.2, listener.close).start()
    assert app_process.wait_port_closed(port, 5) is True


def test_the_health_wait_returns_when_health_answers_200_and_empty_when_it_does_not(monkeypatch):
    # the host's own backend is asked directly, even where the environment names a proxy that does not answer
    monkeypatch.setenv('http_proxy', 'http://127.0.0.1:9')
    monkeypatch.setenv('no_proxy', '')

    class Health(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200 if self.path.startswith('/health') else 503)
            self.end_headers()
            self.wfile.write(b'{"release": "1.4.0"}' if self.path == '/health' else b'up')

        def log_message(self, *args):
            pass
    server = http.server.HTTPServer(('127.0.0.1', 0), Health)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        base = 'http://127.0.0.1:%d' % server.server_port
        at, answer = app_process.wait_healthy(base + '/health', 1)
        assert at.startswith('20') and answer == {'release': '1.4.0'}
        assert app_process.wait_healthy(base + '/health-text', 1)[1] == 'up'
        assert app_process.wait_healthy(base + '/other', 0.2) == ('', None)
    finally:
        server.shutdown()
        server.server_close()
    assert app_process.wait_healthy(base + '/health', 0.2) == ('', None)
