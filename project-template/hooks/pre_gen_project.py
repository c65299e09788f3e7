"""Refuse names that would generate a broken project, before any file is written."""
import keyword
import re
import sys

slug = "{{ cookiecutter.project_slug }}"
package = "{{ cookiecutter.package_name }}"
url = "{{ cookiecutter.course_repository_url }}"

errors = []
if not re.fullmatch(r"[a-z0-9][a-z0-9._-]*", slug):
    errors.append(f"project_slug={slug!r} must be lower-case letters, digits, '.', '_' or '-' "
                  f"(it names the folder and the distribution), e.g. 'leaf-disease-vit'")
if not package.isidentifier() or keyword.iskeyword(package) or package != package.lower():
    errors.append(f"package_name={package!r} must be a lower-case Python identifier, e.g. 'leaf_disease_vit'")
if url and not re.fullmatch(r"https://\S+", url):
    errors.append(f"course_repository_url={url!r} must be an https:// address (or empty)")
if errors:
    sys.stderr.write("cookiecutter: " + "\n".join(errors) + "\n")
    sys.exit(1)
