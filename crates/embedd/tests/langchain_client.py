"""LangChain's OpenAIEmbeddings against a running embedd, as users configure it.

By default it tokenizes each text with tiktoken's cl100k_base and sends the token ids, not the
text. Prints the vectors it got as JSON.

usage: langchain_client.py BASE_URL MODEL HEADER TEXTS_JSON   (HEADER "-" for none)
"""

import json
import sys
import warnings

from langchain_openai import OpenAIEmbeddings

base, model, header, texts = sys.argv[1], sys.argv[2], sys.argv[3], json.loads(sys.argv[4])
headers = {"x-embedd-token-ids": header} if header != "-" else None
with warnings.catch_warnings():
    # A model name tiktoken does not know falls back to cl100k_base, with a warning.
    warnings.simplefilter("ignore")
    embeddings = OpenAIEmbeddings(
        model=model,
        base_url=base + "/v1",
        api_key="sk-not-checked",
        default_headers=headers,
        max_retries=0,
    )
    vectors = embeddings.embed_documents(texts)
print(json.dumps(vectors))
