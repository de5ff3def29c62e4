"""The add-contact form: a plain ModelForm, with the photo as a file upload."""

from django import forms

from .models import Contact

ContactForm = forms.modelform_factory(Contact, fields=("name", "email", "photo"))
