"""Request bodies of the Ollama and OpenAI APIs (only what we read; unknown fields are tolerated,
as both servers do, so newer clients keep working)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictFloat, StrictInt, StrictStr

# Every integer a client sends has a range in the schema, so an out-of-range value is a 400 that
# names the field, not an overflow inside llama.cpp (whose counts are C ints) or HailoRT.
INT32_MAX = 2**31 - 1
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1

# Strict: JSON true/false must not turn into 1 or 0 seconds.
# Seconds up to 2^53, where floats are still exact: the int and float branches agree on the bound.
KeepAlive = (
    StrictStr
    | Annotated[StrictInt, Field(ge=-(2**53), le=2**53)]
    | Annotated[StrictFloat, Field(gt=-(2**53), lt=2**53)]
    | None
)
# The sampling seed: 64-bit, as Ollama and OpenAI take it.
Seed = Annotated[int, Field(ge=INT64_MIN, le=INT64_MAX)]
# Ollama's think: a bool, or a level (our reasoning models have one: on).
Think = Annotated[
    StrictBool | Literal["high", "medium", "low", "max"] | None,
    Field(description="reasoning models: think first (default for them), message.thinking apart from content"),
]


class Lenient(BaseModel):
    model_config = ConfigDict(extra="allow")


# --- Ollama ---------------------------------------------------------------------------------


class OllamaOptions(Lenient):
    num_ctx: int | None = Field(
        default=None, ge=64, le=INT32_MAX, description="context length; past the model's maximum it is clamped to it"
    )
    num_predict: int | None = Field(
        default=None, ge=-2, le=INT32_MAX, description="most tokens to generate; -1 = no limit, -2 = fill the context"
    )
    temperature: float | None = Field(default=None, ge=0)
    top_k: int | None = Field(default=None, ge=0, le=INT32_MAX)
    top_p: float | None = Field(default=None, ge=0, le=1)
    min_p: float | None = Field(default=None, ge=0, le=1)
    seed: Seed | None = None
    stop: list[str] | str | None = None
    repeat_penalty: float | None = Field(default=None, gt=0)
    frequency_penalty: float | None = None
    presence_penalty: float | None = None


class FunctionDef(Lenient):
    name: str = Field(min_length=1, max_length=256)
    description: str | None = None
    parameters: dict[str, Any] | None = None  # a JSON schema


class ToolDef(Lenient):
    """A tool as both APIs define it: ``{"type": "function", "function": {name, description, parameters}}``."""

    type: Literal["function"] = "function"
    function: FunctionDef


class OllamaMessage(Lenient):
    role: Literal["system", "user", "assistant", "tool"]
    content: str = ""
    images: list[str] | None = None
    tool_calls: list[dict[str, Any]] | None = None  # an assistant's earlier calls (arguments an object)
    tool_name: str | None = None  # a tool result: which tool answered
    tool_call_id: str | None = None


# The examples show in /docs, and are the valid requests the conformance suite starts from: they
# name the CPU engine's packaged default model and ask for few tokens, so they answer fast anywhere.
EXAMPLE_MODEL = "smollm2:135m"


def _examples(*examples: dict[str, Any]) -> ConfigDict:
    return ConfigDict(json_schema_extra={"examples": list(examples)})


class OllamaChatRequest(Lenient):
    model_config = _examples(
        {
            "model": EXAMPLE_MODEL,
            "messages": [{"role": "user", "content": "Why is the sky blue? One sentence."}],
            "stream": False,
            "options": {"num_predict": 8},
        }
    )

    model: str = Field(min_length=1)
    messages: list[OllamaMessage] | None = None
    tools: list[ToolDef] | None = None
    format: str | dict[str, Any] | None = None
    options: OllamaOptions | None = None
    stream: bool = True
    keep_alive: KeepAlive = None
    truncate: bool | None = Field(
        default=None, description="drop the oldest messages when the chat is longer than the context (default true)"
    )
    think: Think = None


class OllamaGenerateRequest(Lenient):
    model_config = _examples(
        {"model": EXAMPLE_MODEL, "prompt": "Why is the sky blue?", "stream": False, "options": {"num_predict": 8}}
    )

    model: str = Field(min_length=1)
    prompt: str | None = None
    suffix: str | None = None
    images: list[str] | None = None
    format: str | dict[str, Any] | None = None
    options: OllamaOptions | None = None
    system: str | None = None
    template: str | None = None
    stream: bool = True
    raw: bool = False
    keep_alive: KeepAlive = None
    think: Think = None
    truncate: bool | None = Field(
        default=None, description="cut a prompt longer than the context, as Ollama does (default true)"
    )


class OllamaModelRequest(Lenient):
    model_config = _examples({"model": EXAMPLE_MODEL})

    model: str | None = None
    name: str | None = None  # older clients send "name"
    verbose: bool = False
    stream: bool = True
    insecure: bool = False

    def target(self) -> str:
        return (self.model or self.name or "").strip()


# --- OpenAI ---------------------------------------------------------------------------------


class OpenAIMessage(Lenient):
    role: Literal["system", "developer", "user", "assistant", "tool"]
    content: str | list[dict[str, Any]] | None = None
    name: str | None = None


class StreamOptions(Lenient):
    include_usage: bool = False


class ResponseFormat(Lenient):
    type: Literal["text", "json_object", "json_schema"] = "text"
    json_schema: dict[str, Any] | None = None


class OpenAISampling(Lenient):
    """Fields /v1/chat/completions and /v1/completions share."""

    model: str = Field(min_length=1)
    temperature: float | None = Field(default=None, ge=0, le=2)
    top_p: float | None = Field(default=None, ge=0, le=1)
    n: int = Field(default=1, ge=1, le=1, description="choices to generate: only 1 is supported")
    stream: bool = False
    stream_options: StreamOptions | None = None
    stop: str | list[str] | None = None
    seed: Seed | None = None
    frequency_penalty: float | None = Field(default=None, ge=-2, le=2)
    presence_penalty: float | None = Field(default=None, ge=-2, le=2)


class OpenAIChatRequest(OpenAISampling):
    model_config = _examples(
        {"model": EXAMPLE_MODEL, "messages": [{"role": "user", "content": "Say hello."}], "max_tokens": 8}
    )

    messages: list[OpenAIMessage] = Field(min_length=1)
    max_tokens: int | None = Field(default=None, ge=1, le=INT32_MAX)
    max_completion_tokens: int | None = Field(default=None, ge=1, le=INT32_MAX)
    response_format: ResponseFormat | None = None
    tools: list[ToolDef] | None = None
    tool_choice: Literal["auto", "none", "required"] | dict[str, Any] | None = None
    parallel_tool_calls: bool | None = None
    # Reasoning models think unless told "none" (Ollama's /v1 maps these to think the same way).
    reasoning_effort: Literal["none", "minimal", "low", "medium", "high", "xhigh"] | None = None
    reasoning: dict[str, Any] | None = Field(default=None, description='{"effort": ...}, as reasoning_effort')


class OpenAICompletionRequest(OpenAISampling):
    model_config = _examples({"model": EXAMPLE_MODEL, "prompt": "Once upon a time", "max_tokens": 8})

    prompt: str | list[str]
    max_tokens: int | None = Field(default=16, ge=1, le=INT32_MAX)  # OpenAI's documented default
    echo: bool = False
    suffix: str | None = None


# --- Embeddings -----------------------------------------------------------------------------

# More inputs than this in one request is a batch job, not a request: the queue would be held for
# minutes (Open WebUI and LangChain send RAG chunks in batches of tens).
MAX_EMBED_INPUTS = 2048
EmbedInputs = Annotated[list[str], Field(max_length=MAX_EMBED_INPUTS)]


class OllamaEmbedRequest(Lenient):
    """``POST /api/embed``: one string or a list; vectors L2-normalised."""

    model_config = _examples({"model": EXAMPLE_MODEL, "input": ["Why is the sky blue?", "Why is the grass green?"]})

    model: str = Field(min_length=1)
    input: str | EmbedInputs = Field(default_factory=list)
    truncate: bool = Field(default=True, description="cut inputs longer than the context (false: 400)")
    dimensions: int | None = Field(default=None, ge=1, le=65536, description="keep the first N dimensions")
    options: OllamaOptions | None = None
    keep_alive: KeepAlive = None


class OllamaEmbeddingsRequest(Lenient):
    """``POST /api/embeddings``, Ollama's older endpoint: one prompt, a vector not normalised."""

    model_config = _examples({"model": EXAMPLE_MODEL, "prompt": "Here is an article about llamas..."})

    model: str = Field(min_length=1)
    prompt: str = ""
    options: OllamaOptions | None = None
    keep_alive: KeepAlive = None


class OpenAIEmbeddingRequest(Lenient):
    """``POST /v1/embeddings``."""

    model_config = _examples({"model": EXAMPLE_MODEL, "input": "The food was delicious and the waiter..."})

    model: str = Field(min_length=1)
    input: str | EmbedInputs
    dimensions: int | None = Field(default=None, ge=1, le=65536)
    encoding_format: Literal["float", "base64"] = "float"
    user: str | None = None
