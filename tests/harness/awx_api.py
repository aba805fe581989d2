"""A recording stand-in for AWX's REST API (/api/v2/), for the awx.awx modules on loopback.

There is no AWX server on these machines. This serves the generic part of AWX's API that awx.awx's
modules use (list with field filters and or__ filters, create, read, patch, the association
sub-lists such as a job template's credentials, unified_job_templates over the templates) and
keeps every object, so a test can read what the real modules sent. It checks the bearer token and
answers with AWX's product headers. It knows nothing of AWX's validation beyond that.
"""
import json
import re
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pgcluster

PATH = re.compile(r'^/api/v2/(?P<kind>[a-z_]+)/(?:(?P<id>\d+)/(?:(?P<sub>[a-z_]+)/)?)?$')
TEMPLATE_KINDS = ('job_templates', 'projects', 'inventory_sources', 'workflow_job_templates')


class AwxApi:
    """Objects by kind; start() serves them on 127.0.0.1; requests is what was asked, in order."""

    def __init__(self, token, version='24.6.1'):
        self.token, self.version = token, version
        self.objects = {}
        self.associations = {}
        self.requests = []
        self.next_id = 1
        self.server = None

    def add(self, collection, fields):
        item = dict(fields, id=self.next_id, url='/api/v2/%s/%d/' % (collection, self.next_id), related={},
                    summary_fields={}, type=collection.rstrip('s'))
        if collection == 'projects':
            item.setdefault('scm_revision', '')
        self.next_id += 1
        self.objects.setdefault(collection, []).append(item)
        return item

    def listing(self, kind, query):
        items = list(self.objects.get(kind, [])) if kind != 'unified_job_templates' else \
            [item for template_kind in TEMPLATE_KINDS for item in self.objects.get(template_kind, [])]
        plain = dict((key, value) for key, value in query.items() if not key.startswith('or__') and key != 'page_size')
        either = dict((key[len('or__'):], value) for key, value in query.items() if key.startswith('or__'))
        return [item for item in items
                if all(str(item.get(key)) == value for key, value in plain.items())
                and (not either or any(str(item.get(key)) == value for key, value in either.items()))]

    def start(self):
        api = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # quiet
                return

            def answer(self, status, body=None):
                data = json.dumps(body).encode() if body is not None else b''
                self.send_response(status)
                self.send_header('Content-Type', 'application/json')
                self.send_header('X-API-Product-Name', 'AWX')
                self.send_header('X-API-Product-Version', api.version)
                self.send_header('Content-Length', str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def handle_any(self, method):
                parsed = urllib.parse.urlparse(self.path)
                length = int(self.headers.get('Content-Length') or 0)
                body = json.loads(self.rfile.read(length) or b'{}') if length else {}
                api.requests.append((method, parsed.path, body))
                if self.headers.get('Authorization') != 'Bearer %s' % api.token:
                    return self.answer(401, {'detail': 'Authentication credentials were not provided.'})
                match = PATH.match(parsed.path)
                if not match:
                    return self.answer(404, {'detail': 'Not found.'})
                kind, ident, sub = match.group('kind'), match.group('id'), match.group('sub')
                query = dict(urllib.parse.parse_qsl(parsed.query))
                found = [item for item in api.objects.get(kind, []) if ident and item['id'] == int(ident)]
                if ident and not found:
                    return self.answer(404, {'detail': 'Not found.'})
                if sub:
                    linked = api.associations.setdefault((kind, int(ident), sub), [])
                    if method == 'GET':
                        results = [{'id': other} for other in linked]
                        return self.answer(200, {'count': len(results), 'next': None, 'results': results})
                    if body.get('disassociate'):
                        linked.remove(body['id'])
                    else:
                        linked.append(body['id'])
                    return self.answer(204)
                if method == 'GET' and ident:
                    return self.answer(200, found[0])
                if method == 'GET':
                    results = api.listing(kind, query)
                    return self.answer(200, {'count': len(results), 'next': None, 'previous': None, 'results': results})
                if method == 'POST' and not ident:
                    return self.answer(201, api.add(kind, body))
                if method in ('PATCH', 'PUT') and ident:
                    found[0].update(body)
                    return self.answer(200, found[0])
                return self.answer(405, {'detail': 'Method "%s" not allowed.' % method})

            def do_GET(self):  # noqa: N802 (the http.server names)
                self.handle_any('GET')

            def do_POST(self):  # noqa: N802
                self.handle_any('POST')

            def do_PATCH(self):  # noqa: N802
                self.handle_any('PATCH')

            def do_PUT(self):  # noqa: N802
                self.handle_any('PUT')

        self.server = ThreadingHTTPServer(('127.0.0.1', pgcluster.free_port()), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return 'http://127.0.0.1:%d' % self.server.server_address[1]

    def stop(self):
        if self.server:
            self.server.shutdown()
            self.server.server_close()

    def named(self, kind, name):
        return [item for item in self.objects.get(kind, []) if item.get('name') == name]

    def associated(self, kind, ident, sub):
        return self.associations.get((kind, ident, sub), [])

    def writes(self):
        return [request for request in self.requests if request[0] != 'GET']
