"""The main-job demo: ``python -m demo`` (the README's first command).

It runs, in a few seconds, what this project is for, through LangChain and LlamaIndex alike:

1. a LangChain chain (prompt | ``AzureGatewayChatModel`` | parser), streamed;
2. a LangChain tool call, the tool run, and the answer that uses its result;
3. a conversation with a dangling tool call (Azure answers 400 to it), repaired before it is sent;
4. a LlamaIndex query engine over a small index, streamed;
5. a LlamaIndex agent (``FunctionAgent``) calling a tool;
6. a failover: the first region throttles (429), the call moves to the second one without waiting;
7. what the calls cost, per deployment.

Where it sends requests:

* **No Azure endpoint configured** (no ``AZURE_OPENAI_ENDPOINT``, no endpoint in ``$AZURE_GATEWAY_CONFIG``): two
  Azure OpenAI emulators on loopback play two regions, ``eastus`` (a PTU deployment, tried first) and
  ``swedencentral`` (pay-as-you-go); for step 6 the emulator in ``eastus`` starts answering every request with
  429 and ``Retry-After: 30``. Nothing leaves the machine and no key is needed.
* **An Azure endpoint and a credential configured** (the variables in README.md, Configuration): the same steps
  run against your resource and its default deployment; for step 6 a region that refuses connections (a closed
  loopback port, with a key of its own, so your credential is never sent there) is put in front of your
  endpoint. ``--emulator`` uses the emulators anyway.

Only the packages' public API is used; this directory is an example to copy from, not part of the distribution.
"""
