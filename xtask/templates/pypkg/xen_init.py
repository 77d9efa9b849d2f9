"""
The ``xen`` namespace: a pkgutil-style namespace package, so that the
first ``xen`` on ``sys.path`` provides ``xen.migration`` (an implicit
namespace portion would lose to any regular ``xen`` package, silently),
while other ``xen`` directories on the path still provide their modules.
"""

from pkgutil import extend_path

__path__ = extend_path(__path__, __name__)
