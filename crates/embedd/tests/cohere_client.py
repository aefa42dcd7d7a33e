"""Cohere's Python SDK against a running embedd: both clients (`Client` calls /v1/rerank,
`ClientV2` /v2/rerank, which LangChain's CohereRerank uses). Prints each client's results.

usage: cohere_client.py BASE_URL MODEL QUERY DOCUMENTS_JSON
"""

import json
import sys

import cohere

base, model, query, documents = sys.argv[1], sys.argv[2], sys.argv[3], json.loads(sys.argv[4])
answers = {}
for client in (cohere.Client, cohere.ClientV2):
    response = client(base_url=base, api_key="not-checked").rerank(
        model=model, query=query, documents=documents, top_n=len(documents)
    )
    answers[client.__name__] = [[r.index, r.relevance_score] for r in response.results]
print(json.dumps(answers))
