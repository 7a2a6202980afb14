"""Form helpers shared by the apps: Bootstrap classes on every widget."""

from __future__ import annotations

from typing import Any

from django import forms


class BootstrapFormMixin:
    """Adds Bootstrap 5 classes to widgets so templates can render ``{{ field }}`` as is."""

    fields: dict[str, forms.Field]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            widget = field.widget
            if isinstance(widget, forms.CheckboxInput | forms.CheckboxSelectMultiple):
                widget.attrs.setdefault("class", "form-check-input")
            elif isinstance(widget, forms.Select):
                widget.attrs.setdefault("class", "form-select form-select-sm")
            else:
                widget.attrs.setdefault("class", "form-control form-control-sm")
