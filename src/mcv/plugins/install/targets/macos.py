"""macOS Finder: one Quick Action (an Automator service bundle) per action, written with plistlib.

The bundle's "Run Shell Script" action gets the selected files as arguments
(inputMethod 1) and runs a fixed line, `exec '/abs/mcv' describe -- "$@"`:
Finder's PATH has neither Homebrew nor pipx, hence the absolute path. On
another system the bundles are written to mcv's data folder, to copy over.
"""

from __future__ import annotations

import plistlib
import uuid

from mcv.plugins.actions import ACTIONS, MENU_LABEL
from mcv.plugins.install.changes import WriteFile
from mcv.plugins.install.context import Context
from mcv.plugins.install.entries import shell_words

NAME = "macos"
DESCRIPTION = "macOS Finder: Quick Actions (~/Library/Services/*.workflow)"
AFTER = "if Finder does not list them yet: /System/Library/CoreServices/pbs -flush"
_NAMESPACE = uuid.UUID("5d3c1f0e-9a43-4f6b-8f5e-6d2b0c1a7e21")  # stable ids: a reinstall writes the same bytes


def detect(context: Context) -> str | None:
    return None if context.platform == "darwin" else "not macOS (install it by name to export the bundles)"


def services_dir(context: Context):
    if context.platform == "darwin":
        return context.home / "Library" / "Services"
    return context.export_dir() / "macos" / "Library" / "Services"


def plan(context: Context) -> list[WriteFile]:
    changes = []
    for action in ACTIONS:
        bundle = services_dir(context) / f"{action.label.rstrip('…')} ({MENU_LABEL}).workflow" / "Contents"
        changes.append(WriteFile(bundle / "Info.plist", plistlib.dumps(info_plist(action.label))))
        changes.append(WriteFile(bundle / "document.wflow", plistlib.dumps(workflow(context, action))))
    return changes


def info_plist(label: str) -> dict:
    return {
        "NSServices": [
            {
                "NSMenuItem": {"default": label},
                "NSMessage": "runWorkflowAsService",
                "NSRequiredContext": {"NSApplicationIdentifier": "com.apple.finder"},
                "NSSendFileTypes": ["public.image"],
            }
        ]
    }


def workflow(context: Context, action) -> dict:
    ids = [str(uuid.uuid5(_NAMESPACE, f"{action.command}:{part}")).upper() for part in ("action", "input", "output")]
    command = f'exec {shell_words([*context.launcher, action.command])} -- "$@"'
    return {
        "AMApplicationBuild": "523",
        "AMApplicationVersion": "2.10",
        "AMDocumentVersion": "2",
        "actions": [
            {
                "action": {
                    "AMAccepts": {"Container": "List", "Optional": True, "Types": ["com.apple.cocoa.path"]},
                    "AMActionVersion": "2.0.3",
                    "AMApplication": ["Automator"],
                    "AMParameterProperties": {"COMMAND_STRING": {}, "CheckedForUserDefaultShell": {}, "inputMethod": {}, "shell": {}, "source": {}},
                    "AMProvides": {"Container": "List", "Types": ["com.apple.cocoa.string"]},
                    "ActionBundlePath": "/System/Library/Automator/Run Shell Script.action",
                    "ActionName": "Run Shell Script",
                    "ActionParameters": {
                        "COMMAND_STRING": command,
                        "CheckedForUserDefaultShell": True,
                        "inputMethod": 1,  # the files as arguments ("$@"), not on stdin
                        "shell": "/bin/sh",
                        "source": "",
                    },
                    "BundleIdentifier": "com.apple.RunShellScript",
                    "CFBundleVersion": "2.0.3",
                    "CanShowSelectedItemsWhenRun": False,
                    "CanShowWhenRun": True,
                    "Category": ["AMCategoryUtilities"],
                    "Class Name": "RunShellScriptAction",
                    "InputUUID": ids[1],
                    "Keywords": ["Shell", "Script", "Command", "Run", "Unix"],
                    "OutputUUID": ids[2],
                    "UUID": ids[0],
                    "UnlocalizedApplications": ["Automator"],
                    "isViewVisible": True,
                },
                "isViewVisible": True,
            }
        ],
        "connectors": {},
        "workflowMetaData": {
            "serviceApplicationBundleID": "com.apple.finder",
            "serviceInputTypeIdentifier": "com.apple.Automator.fileSystemObject.image",
            "serviceOutputTypeIdentifier": "com.apple.Automator.nothing",
            "serviceProcessesInput": 0,
            "workflowTypeIdentifier": "com.apple.Automator.servicesMenu",
        },
    }
