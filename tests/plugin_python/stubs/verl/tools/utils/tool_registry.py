"""Stand-in for verl/tools/utils/tool_registry.py at volcengine/verl b178a3cd56f58b2d502255daba591e92833930a7.

``initialize_tools_from_config(tools_config_file)`` (82): the YAML file's ``tools`` list, one tool per
entry (``class_name``, ``config.type`` "native" or "mcp", ``tool_schema``); each tool's
``tool_schema`` is an OpenAIFunctionToolSchema (pydantic) built from the entry's mapping. What the
dataset and the agent loop read from it is ``tool.tool_schema.model_dump(exclude_unset=True,
exclude_none=True)``: here the entry's mapping with None values left out. Tool classes are not
instantiated; MCP tools are not mirrored.
"""
import yaml


class _Schema:
    def __init__(self, mapping):
        self._mapping = mapping

    def model_dump(self, exclude_unset=False, exclude_none=False):
        def clean(value):
            if isinstance(value, dict):
                return {k: clean(v) for k, v in value.items() if not (exclude_none and v is None)}
            if isinstance(value, list):
                return [clean(v) for v in value]
            return value

        return clean(self._mapping)


class _Tool:
    def __init__(self, entry):
        self.name = entry["class_name"]
        self.tool_schema = _Schema(entry.get("tool_schema"))


def initialize_tools_from_config(tools_config_file):
    with open(tools_config_file) as f:
        tools_config = yaml.safe_load(f)
    tool_list = []
    for entry in tools_config["tools"]:
        if entry["config"]["type"] != "native":
            raise NotImplementedError("MCP tools are not mirrored")
        tool_list.append(_Tool(entry))
    return tool_list
