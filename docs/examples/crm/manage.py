"""Django's command-line utility for the CRM example (``createsuperuser``, say)."""

import os
import sys

from django.core.management import execute_from_command_line

if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crmsite.settings")
    execute_from_command_line(sys.argv)
