"""Time one-text requests to an embedd server while one large request of long passages computes.

Usage: python3 scripts/fairness.py BASE_URL COUNT [--alone]
  BASE_URL  the server, e.g. http://127.0.0.1:8080
  COUNT     how many passages of corpus_long.txt the large request carries
  --alone   time the large request with no small ones beside it (its own cost)
Prints one JSON line: the large request's size and time, and the small requests' p50/p99/max.
Standard library only, so it runs with any Python 3.
"""
import json
import os
import sys
import threading
import time
import urllib.request

CORPUS = os.path.join(os.path.dirname(__file__), "../../shared/bench/corpus_long.txt")


def post(base, body):
    request = urllib.request.Request(
        base + "/v1/embeddings",
        data=json.dumps(body).encode(),
        headers={"content-type": "application/json"},
    )
    started = time.perf_counter()
    urllib.request.urlopen(request, timeout=900).read()
    return time.perf_counter() - started


def main():
    base, count = sys.argv[1], int(sys.argv[2])
    alone = "--alone" in sys.argv[3:]
    corpus = os.environ.get("EMBEDD_LONG_CORPUS", CORPUS)
    passages = [line for line in open(corpus, encoding="utf-8").read().splitlines() if line.strip()]
    large = passages[:count]
    done = {}
    worker = threading.Thread(target=lambda: done.setdefault("large", post(base, {"input": large})))
    worker.start()
    latencies = []
    if not alone:
        time.sleep(2)  # let the large request start computing first
        while worker.is_alive():
            latencies.append(post(base, {"input": "a short query about embeddings"}))
    worker.join()
    result = {
        "large_inputs": len(large),
        "large_bytes": sum(len(p.encode()) for p in large),
        "large_s": round(done["large"], 2),
    }
    if latencies:
        latencies.sort()

        def quantile(q):
            return round(latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1e3, 1)

        result.update(small_n=len(latencies), p50_ms=quantile(0.5), p99_ms=quantile(0.99),
                      max_ms=round(latencies[-1] * 1e3, 1))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
