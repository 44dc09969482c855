"""Stand-in for verl/experimental/agent_loop/ at volcengine/verl b178a3cd56f58b2d502255daba591e92833930a7."""
from .agent_loop import AgentLoopManager, AgentLoopWorker
from .single_turn_agent_loop import single_turn_agent_loop

__all__ = ["AgentLoopManager", "AgentLoopWorker", "single_turn_agent_loop"]
