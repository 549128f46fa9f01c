"""One settings object per user, composed from every domain's preference section.

``GET /api/v1/me/settings`` answers all sections merged into one flat object;
``PATCH`` takes any subset of those fields. Each domain contributes a
``PreferenceSection`` (a pydantic model of its fields with their defaults, and how to
load and save them); the composition root lists the sections, so adding a domain's
settings is one line there.

No ``from __future__ import annotations`` here: FastAPI must see the real (dynamic)
models in the route signatures below.
"""

from collections.abc import Callable, Sequence
from typing import Annotated, Any, Protocol

from fastapi import APIRouter, Depends
from pydantic import BaseModel, create_model
from pydantic.fields import FieldInfo

from plaza.core.schemas import Input


class PreferenceSection(Protocol):
    """A domain's part of the user settings.

    ``model`` lists the section's fields with their types, defaults and descriptions;
    field names are global across sections (they share one flat object), so they
    must not collide.
    """

    @property
    def name(self) -> str:
        """Names the section in errors (a field declared twice)."""
        ...

    @property
    def model(self) -> type[BaseModel]:
        """The section's fields, with their types, defaults and descriptions."""
        ...

    async def load(self, user_id: int) -> BaseModel:
        """The user's values (defaults for what was never set), as ``model``."""
        ...

    async def save(self, user_id: int, changes: dict[str, Any]) -> None:
        """Store ``changes``: already-validated values of some of ``model``'s fields."""
        ...


def _drop_default(schema: dict[str, Any]) -> None:
    # In the PATCH body a missing field means "unchanged", not null; the schema should
    # not advertise a default of null for a field that does not accept null.
    schema.pop("default", None)


class SettingsComposer:
    """The merged output model, the all-optional PATCH model and the section of each
    field, built once from the sections."""

    def __init__(self, sections: Sequence[PreferenceSection]) -> None:
        self.sections = list(sections)
        self.owner: dict[str, PreferenceSection] = {}
        out_fields: dict[str, Any] = {}
        patch_fields: dict[str, Any] = {}
        for section in self.sections:
            for name, info in section.model.model_fields.items():
                if name in self.owner:
                    raise ValueError(
                        f"settings field {name!r} is declared by both "
                        f"{self.owner[name].name!r} and {section.name!r}"
                    )
                self.owner[name] = section
                out_fields[name] = (info.annotation, info)
                # Same type and constraints, but optional: unset fields stay as they are.
                # The default is not validated, so an explicit null is still refused
                # when the field's type does not allow it.
                optional = FieldInfo.merge_field_infos(
                    info, default=None, json_schema_extra=_drop_default
                )
                patch_fields[name] = (info.annotation, optional)
        self.output: type[BaseModel] = create_model("UserSettings", **out_fields)
        self.patch: type[Input] = create_model("UserSettingsPatch", __base__=Input, **patch_fields)

    async def load(self, user_id: int) -> BaseModel:
        merged: dict[str, Any] = {}
        for section in self.sections:
            merged.update(dict(await section.load(user_id)))
        return self.output.model_validate(merged)

    async def save(self, user_id: int, patch: BaseModel) -> None:
        """Hand each section only its own fields that the request named."""
        given = patch.model_fields_set
        for section in self.sections:
            changes = {
                name: getattr(patch, name) for name in section.model.model_fields if name in given
            }
            if changes:
                await section.save(user_id, changes)


def build_settings_router(
    auth: Callable[..., Any],
    user_id_of: Callable[[Any], int],
    sections: Sequence[PreferenceSection],
) -> APIRouter:
    """``GET``/``PATCH /api/v1/me/settings`` over ``sections``.

    ``auth`` is the FastAPI dependency that yields the signed-in principal (and
    refuses everyone else); ``user_id_of`` reads the user id from it. Both come from
    the composition root, so the core stays ignorant of identity.
    """
    composer = SettingsComposer(sections)
    Output = composer.output
    Patch = composer.patch
    Signed = Annotated[Any, Depends(auth)]
    router = APIRouter(prefix="/api/v1", tags=["settings"])

    @router.get("/me/settings", response_model=Output)
    async def get_settings(me: Signed) -> Any:
        """All of the signed-in user's settings, with defaults for what was never set."""
        return await composer.load(user_id_of(me))

    @router.patch("/me/settings", response_model=Output)
    async def patch_settings(body: Patch, me: Signed) -> Any:  # type: ignore[valid-type]
        """Change some settings; fields left out stay as they are. Unknown fields are a
        422 naming the field. Answers the settings as they are now."""
        user_id = user_id_of(me)
        await composer.save(user_id, body)
        return await composer.load(user_id)

    return router
