"""The add-contact form: the photo as a file upload, the attachment as a direct upload."""

from django import forms

from r2store.django.uploads import DirectUploadField

from .models import Contact


class ContactForm(forms.ModelForm):  # type: ignore[type-arg]
    """A contact; its photo is posted with the form, its attachment is not."""

    # Up to 100 MiB: the browser PUTs the file to the bucket (in local mode, to the
    # media proxy) on a ticket, and the form posts only the ticket's token.
    attachment = DirectUploadField(
        max_size=100 * 1024 * 1024, prefix="attachments", required=False, max_length=200
    )

    class Meta:
        model = Contact
        fields = ("name", "email", "photo", "attachment")
