"""The loadgen scenario shared by bench/loadgen.sh and bench/ab.sh: an open stream of GET
/products/hot against one `flashbench serve`, so the figures are the generator's."""


def scenario(url, rate, seconds, slots=256):
    return f"""name: loadgen
products: [{{id: hot, stock: 1000000000}}]
buyers: {{attempts: 1}}
arrival: {{mode: rate, rate: {rate}/s, duration: {seconds}s, max_in_flight: {slots}}}
request_timeout: 5s
target:
  kind: http
  urls: [{url}]
  warmup: {{path: /healthz}}
  order:
    method: GET
    path: /products/hot
    outcomes: [{{status: 200, outcome: won}}]
truth:
  settle: 100ms
  http: {{stock: {{path: /products/hot, pointer: /stock}}}}
expect: {{invariants: [no_oversell]}}
"""
