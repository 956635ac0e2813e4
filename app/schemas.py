"""Request bodies, with the bounds that turn bad input into a 422 naming the field, and the models of the answers."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, FiniteFloat, model_validator
from pydantic.json_schema import SkipJsonSchema, WithJsonSchema

MAX_SEED = 2**53 - 1  # seeds stay exact in JavaScript clients
Seed = Annotated[int, Field(ge=0, le=MAX_SEED)]
Digit = Annotated[int, Field(ge=0, le=255, description="class index; checked against the model's number")]
ClassName = Annotated[str, Field(min_length=1, max_length=64, examples=["sneaker"],
                                 description="a class name from the model's class_names (GET /models)")]
Label = Digit | ClassName
LatentValue = Annotated[FiniteFloat, Field(ge=-1000, le=1000)]
CodeValue = Annotated[FiniteFloat, Field(ge=-10, le=10)]
ImageFormat = Literal["png", "json", "npy"]
ModelName = Annotated[str, Field(min_length=1, max_length=128, examples=["cgan-mnist"],
                                 description="a model name from GET /models")]
# An enum of one rather than pydantic's const: openapi-python-client 0.29 cannot read a union with a const in it.
Category = Annotated[Literal["category"], WithJsonSchema({"type": "string", "enum": ["category"]})]


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


# The rules between fields, for the OpenAPI document: a "not" that code generators pass over (an object-level
# oneOf would make them generate a union of empty models instead of the model).
NOT_NULL = {"not": {"type": "null"}}


def both(a: str, b: str) -> dict[str, Any]:
    return {"required": [a, b], "properties": {a: NOT_NULL, b: NOT_NULL}}


def not_both(*pairs: tuple[str, str]) -> dict[str, Any]:
    """The schema of "give a or b, not both" for each pair (null counts as not given)."""
    return {"not": {"anyOf": [both(a, b) for a, b in pairs]}}


def exactly_one(a: str, b: str) -> dict[str, Any]:
    """The schema of "give exactly one of a or b" (null counts as not given)."""
    neither = {"properties": {a: {"type": "null"}, b: {"type": "null"}}}
    return {"not": {"anyOf": [both(a, b), neither]}}


class Conditioning(Body):
    """Conditional inputs; what a model takes is checked against the model."""

    label: Label | None = Field(None, description="CGAN: the class for every image, by index (a digit) or, for "
                                "models with class_names, by name (\"sneaker\")")
    category: Digit | None = Field(None, description="InfoGAN: the categorical code for every image")
    codes: list[CodeValue] | None = Field(None, max_length=16, description="InfoGAN: the continuous codes")


class ImageOptions(Body):
    format: ImageFormat = Field("png", description="png: one PNG (a grid for several images); json: base64 PNGs "
                                "with each image's seed and conditioning; npy: the raw uint8 pixels as one NumPy "
                                ".npy array (N, H, W, C), no PNG encoding (for bulk clients)")
    columns: int | None = Field(None, ge=1, le=64, description="grid width for PNG output")
    scale: int = Field(1, ge=1, le=16, description="PNG enlargement factor (nearest neighbour)")


class GenerateRequest(Conditioning, ImageOptions):
    model_config = ConfigDict(json_schema_extra=not_both(("seed", "seeds"), ("label", "labels")))

    model: ModelName
    n: int = Field(1, ge=1, le=4096, description="number of images (at most GAN_MAX_IMAGES)")
    seed: Seed | None = Field(None, description="image i is the image of seed + i; drawn when absent")
    seeds: list[Seed] | None = Field(None, min_length=1, max_length=4096,
                                     description="one seed per image, instead of seed and n")
    labels: list[Label] | None = Field(None, description="CGAN: one label per image (indices or class names)")
    return_latents: bool = False

    @model_validator(mode="after")
    def check_labels(self) -> GenerateRequest:
        if self.seeds is not None:
            if self.seed is not None:
                raise ValueError("give seed or seeds, not both")
            self.n = len(self.seeds)
        if self.labels is not None and self.label is not None:
            raise ValueError("give label or labels, not both")
        if self.labels is not None and len(self.labels) != self.n:
            raise ValueError(f"labels has {len(self.labels)} entries, n is {self.n}")
        return self


class LatentRef(Body):
    """A latent given by its seed or as an explicit z vector."""

    model_config = ConfigDict(json_schema_extra=exactly_one("seed", "z"))

    seed: Seed | None = None
    z: list[LatentValue] | None = Field(None, max_length=4096)

    @model_validator(mode="after")
    def one_of(self) -> LatentRef:
        if (self.seed is None) == (self.z is None):
            raise ValueError("give exactly one of seed or z")
        return self


class ArithmeticTerm(Body):
    model_config = ConfigDict(json_schema_extra=exactly_one("seeds", "z"))

    seeds: list[Seed] | None = Field(None, min_length=1, max_length=16)
    z: list[LatentValue] | None = Field(None, max_length=4096)
    weight: FiniteFloat = Field(1.0, ge=-10, le=10)

    @model_validator(mode="after")
    def one_of(self) -> ArithmeticTerm:
        if (self.seeds is None) == (self.z is None):
            raise ValueError("give exactly one of seeds or z")
        return self


class ArithmeticRequest(Conditioning, ImageOptions):
    model: ModelName
    terms: list[ArithmeticTerm] = Field(min_length=1, max_length=8)
    neighbors: int = Field(0, ge=0, le=8, description="variants with uniform noise of +-0.25 on the result")
    seed: Seed = Field(0, description="draws the neighbours' noise and any conditional input not given")


class InterpolateRequest(Conditioning, ImageOptions):
    model: ModelName
    start: LatentRef
    end: LatentRef
    steps: int = Field(8, ge=2, le=64)
    method: Literal["slerp", "lerp"] = "slerp"


class SweepRequest(ImageOptions):
    model: ModelName
    seed: Seed = 0
    vary: Category | Annotated[int, Field(ge=0, le=15)] = Field(
        "category", description='"category", or the index of a continuous code'
    )
    steps: int = Field(9, ge=2, le=32, description="values of a continuous code, from low to high")
    low: FiniteFloat = Field(-2.0, ge=-10, le=10)
    high: FiniteFloat = Field(2.0, ge=-10, le=10)
    rows: int = Field(4, ge=1, le=16, description='seeds (rows) when vary is "category"')
    codes: list[CodeValue] | None = Field(None, max_length=16, description="fixed values of the other codes")


class EncodeRequest(Body):
    model: ModelName
    image: str = Field(max_length=1_000_000, description="the image as base64 (PNG, JPEG, WebP, GIF or BMP; a "
                       "data: URL is fine), any size up to GAN_MAX_OUTPUT_PIXELS pixels, white on black or black "
                       "on white")


class EncodeUpload(BaseModel):
    """POST /infogan/encode as a multipart upload."""

    model: ModelName
    image: bytes = Field(description="the image file (PNG, JPEG, WebP, GIF or BMP)")


class Encoding(BaseModel):
    model: str
    category: int = Field(description="the most likely InfoGAN category")
    probabilities: list[float] = Field(description="the distribution over categories")
    digit: int | None = Field(description="the digit that category stands for (the card's category_to_digit)")
    digit_probabilities: list[float] | None = Field(description="the same distribution, summed per digit")
    codes: list[float] = Field(description="the continuous codes Q reads (slant, width)")
    seen: str = Field(description="base64 PNG: the 28 x 28 image Q read, after MNIST-like preparation")
    model_version: str = Field(description="the version of the model whose Q read it")


# The JSON answers of the image routes (format json), for the OpenAPI document only: app/responses.py builds them.
# A key that does not apply to the model is left out, never null.
Absent = SkipJsonSchema[None]


def omitted(description: str) -> Any:
    """A key left out where it does not apply: not required, and no null default in the schema."""
    return Field(None, description=description, json_schema_extra=lambda schema: schema.pop("default", None))


class JsonImage(BaseModel):
    """One image of a JSON answer, with what made it."""

    model_config = ConfigDict(extra="forbid")

    label: int | Absent = omitted("CGAN: the class index (of the larger weight, where labels blend)")
    label_name: str | Absent = omitted("CGAN with class_names: that class's name")
    category: int | Absent = omitted("InfoGAN: the categorical code")
    codes: list[float] | Absent = omitted("InfoGAN: the continuous codes")
    png: str = Field(description="the image as base64 PNG (scaled by scale)")


class GeneratedImage(JsonImage):
    seed: int = Field(description="the image's seed")
    z: list[float] | Absent = omitted("the latent vector, with return_latents")


class InterpolatedImage(JsonImage):
    t: float = Field(description="the frame's position from start (0) to end (1)")


class ArithmeticImage(JsonImage):
    kind: Literal["result", "neighbor"]
    z: list[float] = Field(description="the latent vector")


class ArithmeticTermImage(BaseModel):
    model_config = ConfigDict(extra="forbid")

    weight: float
    z: list[float] = Field(description="the term's z: the mean of its seeds' latents, or its own z")
    png: str = Field(description="the image of that z, as base64 PNG")


class JsonAnswer(BaseModel):
    model_config = ConfigDict(extra="forbid")

    model: str
    model_version: str = Field(description="the version that made the images (also X-Model-Version)")
    elapsed_ms: float = Field(description="time from the request to its answer's encoding")


class GenerateResponse(JsonAnswer):
    seed: int = Field(description="the first image's seed (also X-Seed)")
    images: list[GeneratedImage]


class InterpolateResponse(JsonAnswer):
    method: Literal["slerp", "lerp"]
    images: list[InterpolatedImage]


class ArithmeticResponse(JsonAnswer):
    terms: list[ArithmeticTermImage] = Field(description="each term of the request, as z and image")
    images: list[ArithmeticImage] = Field(description="the result, then its neighbours")


class SweepResponse(JsonAnswer):
    vary: Category | int
    values: list[float] = Field(description="the value each column stands for: categories or code values")
    rows: int
    columns: int
    images: list[JsonImage] = Field(description="row by row")


class ErrorItem(BaseModel):
    loc: list[str | int] = Field(description='where: ["body", "n"], ["query", "codes"], ["path", "name"], ...')
    msg: str = Field(description="what is wrong, with the limit")
    type: str = Field(description="the kind of error, e.g. value_error, not_found, too_large")
    ctx: dict[str, Any] | None = None


class ErrorResponse(BaseModel):
    """The one shape of every 4xx and 5xx answer."""

    detail: list[ErrorItem]


class Health(BaseModel):
    status: Literal["ok"]


class Readiness(BaseModel):
    ready: bool
    models: list[str]
    unavailable: dict[str, str] = Field(description="model name -> why it failed to load")
    device: str
    versions: dict[str, str] = Field({}, description="model name -> the version serving (its sha256's first 12)")
    refused: dict[str, str] = Field({}, description="model name -> why its newer files were refused (the version "
                                    "in versions keeps serving)")


class ReloadReport(BaseModel):
    """What a rereading of the checkpoint folders did."""

    loaded: dict[str, str] = Field({}, description="model name -> the version now serving")
    refused: dict[str, str] = Field({}, description="model name -> why its files were refused")
    removed: list[str] = Field([], description="models whose files are gone: no longer served")
    unchanged: list[str] = Field([], description="models serving as before")


class ModelCard(BaseModel):
    name: str
    family: str
    dataset: str | None = None
    image_size: int
    channels: int
    z_dim: int
    num_classes: int | None = None
    num_categories: int | None = None
    num_continuous: int | None = None
    epochs: int | None = None
    steps: int | None = None
    training_time_s: float | None = None
    training_device: str | None = None
    class_names: list[str] | None = Field(None, description="CGAN: the classes' names by index, where the labels are "
                                          "not digits; a label may be given by name")
    encoder: bool = Field(False, description="InfoGAN: POST /infogan/encode reads images with this model's Q")
    metrics: dict[str, Any] = {}
    version: str = Field("", description="the version serving: its weights' sha256, first 12 characters (also "
                         "X-Model-Version on every image answer)")
    loaded_at: str | None = Field(None, description="when that version was loaded (UTC)")
    refused: str | None = Field(None, description="why newer files of this model were refused, if they were")
