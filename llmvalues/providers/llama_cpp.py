"""Run a GGUF model in-process with llama.cpp (llama-cpp-python).

A request's prompt is split into its shared prefix (the tokens it has in common
with ``Request.prefix``: the system prompt and the instructions before the item)
and its own tokens. The prefix is evaluated from an empty context in one call and
kept in the KV cache; each request truncates the cache back to that prefix and
evaluates only its own tokens. The split point depends only on the request, and
the prefix cells are never rewritten while they are reused, so a request's result
depends only on the request: not on the order of items, on the requests before it
or on where a resumed run started. With the same build, seed and ``n_batch`` the
results are bit-identical across runs and processes.

Evaluating a prompt in two calls can give other logits than one call over the
whole prompt, because llama.cpp's kernels may round differently. On
llama-cpp-python 0.3.36 (2 x86_64 cores) the split gave identical logits for
every portrait item of SmolLM2-135M-Instruct and gemma-3-270m and for every
dilemma of SmolLM2, but up to 1.2 apart on gemma-3-270m's dilemmas.
``reuse_prefix=False`` evaluates every prompt in one call from an empty context,
as versions before prefix reuse did.

One forward pass over the prompt gives the next-token logits; the probabilities
of the tokens "1" ... "6" are read from them (the digit distribution), and the
reply is then sampled from the same evaluated prompt with the request's seed.
Chat messages are formatted with the chat template stored in the GGUF file.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

import numpy as np

from ..errors import InputError
from ..values import SCALE_MAX, SCALE_MIN
from .base import Request, Response

DIGITS = tuple(str(point) for point in range(SCALE_MIN, SCALE_MAX + 1))
DIGIT_GRAMMAR = "root ::= [1-6]"


def block_grammar(size: int) -> str:
    """Return a GBNF grammar for exactly ``size`` lines "N: d", N = 1..size, d a digit 1-6."""
    lines = " ".join(f'"{number}: " [1-6] "\\n"' for number in range(1, size + 1))
    return f"root ::= {lines}"


def common_prefix_length(first: list[int], second: list[int]) -> int:
    """Return the number of leading tokens two token lists share."""
    length = 0
    for a, b in zip(first, second):
        if a != b:
            break
        length += 1
    return length


@contextlib.contextmanager
def _quiet_stderr():
    """Silence llama.cpp's C-level log lines on file descriptor 2 while loading a model."""
    saved = os.dup(2)
    with open(os.devnull, "w") as devnull:
        os.dup2(devnull.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)


class LlamaCppProvider:
    """A llama.cpp model loaded once and asked many times."""

    supports_logprobs = True
    supports_batch = False

    def __init__(self, model_path: str | Path, *, model_id: str, n_ctx: int, n_batch: int, n_threads: int,
                 reuse_prefix: bool = True):
        import llama_cpp
        from llama_cpp import Llama
        from llama_cpp.llama_chat_format import Jinja2ChatFormatter

        self._llama_cpp = llama_cpp
        self.model_id = model_id
        self.model_path = Path(model_path)
        with _quiet_stderr():
            self.llm = Llama(model_path=str(model_path), n_ctx=n_ctx, n_batch=n_batch, n_threads=n_threads,
                             verbose=False)
        self._digit_ids = []
        for digit in DIGITS:
            tokens = self.llm.tokenize(digit.encode(), add_bos=False, special=False)
            if len(tokens) != 1:
                raise InputError(str(model_path), None, f"the digit {digit} is not a single token in this model",
                                 "the logprobs answer mode and the digit grammar need single-token digits")
            self._digit_ids.append(tokens[0])
        template = self.llm.metadata.get("tokenizer.chat_template")
        self._formatter = None
        if template:
            eos = self.llm.detokenize([self.llm.token_eos()]).decode("utf-8", errors="replace")
            bos = self.llm.detokenize([self.llm.token_bos()]).decode("utf-8", errors="replace")
            self._formatter = Jinja2ChatFormatter(template=template, eos_token=eos, bos_token=bos)
        self.reuse_prefix = reuse_prefix
        # The tokens whose KV-cache cells [0, len) hold the saved prefix state, or None.
        self._prefix: list[int] | None = None
        self.prefix_evaluations = 0  # times a prefix was evaluated from an empty context
        self.last_evaluated_tokens = 0  # prompt tokens the last request evaluated, its prefix included

    def _tokens(self, content) -> list[int]:
        if isinstance(content, str):
            return self.llm.tokenize(content.encode("utf-8"), add_bos=True, special=False)
        if self._formatter is None:
            raise InputError(str(self.model_path), None, "this model has no chat template",
                             "use a completion template for it (template: portrait-completion-v1)")
        formatted = self._formatter(messages=content)
        return self.llm.tokenize(formatted.prompt.encode("utf-8"), add_bos=not formatted.added_special, special=True)

    def _prefix_length(self, request: Request, tokens: list[int]) -> int:
        """Return how many leading tokens of the prompt form its shared prefix (0: none)."""
        if not self.reuse_prefix or not request.prefix:
            return 0
        # The prefix's own prompt ends differently (a chat template closes the cut message),
        # so only the tokens both prompts share count. At least one token of the request's
        # own is left to evaluate, because its logits give the reply.
        length = common_prefix_length(self._tokens(request.prefix), tokens)
        return min(length, len(tokens) - 1)

    def _restore_prefix(self, prefix: list[int]) -> bool:
        """Truncate the KV cache back to ``prefix`` if it holds exactly that saved state."""
        if self._prefix is None or self._prefix != prefix:
            return False
        memory = self._llama_cpp.llama_get_memory(self.llm.ctx)
        # Recurrent models cannot drop the cells after a position: they fall back to
        # evaluating the prefix again, which gives the same state.
        if not self._llama_cpp.llama_memory_seq_rm(memory, -1, len(prefix), -1):
            return False
        self.llm.n_tokens = len(prefix)
        return True

    def _evaluate(self, tokens: list[int], prefix_length: int) -> None:
        """Evaluate the prompt: its own tokens from the saved prefix state, or everything from an empty context."""
        prefix = tokens[:prefix_length]
        if prefix_length > 0 and self._restore_prefix(prefix):
            self.llm.eval(tokens[prefix_length:])
            self.last_evaluated_tokens = len(tokens) - prefix_length
            return
        self._prefix = None
        self.llm.reset()
        if prefix_length > 0:
            self.llm.eval(prefix)
            self._prefix = prefix
            self.prefix_evaluations += 1
        self.llm.eval(tokens[prefix_length:])
        self.last_evaluated_tokens = len(tokens)

    def _digit_distribution(self) -> dict:
        logits = np.ctypeslib.as_array(self._llama_cpp.llama_get_logits(self.llm.ctx),
                                       shape=(self.llm.n_vocab(),)).astype(np.float64)
        log_normalizer = np.logaddexp.reduce(logits)
        probabilities = np.exp(logits[self._digit_ids] - log_normalizer)
        mass = float(probabilities.sum())
        renormalized = probabilities / mass if mass > 0 else np.full(len(DIGITS), 1 / len(DIGITS))
        points = np.arange(SCALE_MIN, SCALE_MAX + 1)
        return {
            "probabilities": {digit: float(value) for digit, value in zip(DIGITS, renormalized)},
            "digit_mass": mass,
            "mean": float((points * renormalized).sum()),
            "argmax": int(points[int(np.argmax(renormalized))]),
        }

    async def acomplete(self, request: Request) -> Response:
        """Answer in the calling thread: the model runs one request at a time."""
        return self.complete(request)

    def complete(self, request: Request) -> Response:
        from llama_cpp import LlamaGrammar

        tokens = self._tokens(request.content)
        if len(tokens) + request.max_tokens > self.llm.n_ctx():
            return Response(None, None, self.model_path.name,
                            error=f"prompt of {len(tokens)} tokens plus {request.max_tokens} to generate exceeds "
                                  f"n_ctx {self.llm.n_ctx()}; raise n_ctx for this model in params.yaml")
        self._evaluate(tokens, self._prefix_length(request, tokens))
        distribution = self._digit_distribution() if request.distribution else None

        grammar = None
        if request.constrain == "digit" and request.block_size == 0:
            grammar = LlamaGrammar.from_string(DIGIT_GRAMMAR, verbose=False)
        elif request.constrain == "digit":
            grammar = LlamaGrammar.from_string(block_grammar(request.block_size), verbose=False)
        # The prompt was just evaluated, so create_completion samples from that same state.
        # It evaluates the sampled tokens after the prompt and never rewrites the prefix cells.
        output = self.llm.create_completion(
            prompt=tokens, max_tokens=request.max_tokens, temperature=request.temperature, top_p=request.top_p,
            top_k=0, min_p=0.0, seed=request.seed, grammar=grammar,
        )
        choice = output["choices"][0]
        return Response(
            reply=choice["text"],
            finish_reason=choice["finish_reason"],
            model_returned=self.model_path.name,
            usage=dict(output.get("usage", {})),
            distribution=distribution,
        )
